import type { z } from 'zod';
import { ValidationError } from './errors';

/** A record's key that failed its own schema: say which key and why, not only "Invalid key". */
function messageOf(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'invalid_key') return issue.message;
  const key = issue.path.at(-1);
  return `invalid name ${JSON.stringify(String(key))}: ${issue.issues.map((i) => i.message).join('; ')}`;
}

/** Parses a step's event; a malformed one fails with the field named, before anything is written. */
export function parseEvent<T extends z.ZodType>(schema: T, event: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(event);
  if (!parsed.success) {
    throw new ValidationError(what, parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: messageOf(i) })), { cause: parsed.error });
  }
  return parsed.data;
}
