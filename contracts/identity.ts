import { deferred } from './deferred';
import * as z from 'zod';

/**
 * Who someone is (a requester, an approver, an operator's `--as`, an entry of an allowed list): one
 * rule for all of them, written out in docs/approvals.md ("Identities"). Surrounding whitespace is
 * trimmed; whitespace, control characters and invisible format characters (zero-width, bidi) inside
 * are refused, so two names that look alike on a page cannot be two different people.
 */
const NOT_IN_AN_IDENTITY = /[\s\p{Cc}\p{Cf}\p{Z}]/u;

export const Identity = deferred(() =>
  z
    .string()
    .trim()
    .normalize('NFC')
    .min(1, 'must name someone')
    .max(200, 'must be at most 200 characters')
    .refine(
      (s) => !NOT_IN_AN_IDENTITY.test(s),
      'must not contain whitespace, control or invisible characters',
    ),
);

/**
 * The form two identities are compared in: an ARN (an IAM identity) exactly as written, anything
 * else (a user name, an e-mail address) without regard to case.
 */
export function identityKey(identity: string): string {
  const trimmed = identity.trim().normalize('NFC');
  return trimmed.startsWith('arn:') ? trimmed : trimmed.toLowerCase();
}

export const sameIdentity = (a: string, b: string): boolean => identityKey(a) === identityKey(b);
