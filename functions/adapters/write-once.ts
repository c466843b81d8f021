import { EvidenceIntegrityError } from '../core/errors';
import { sha256Hex } from '../core/hashing';

/**
 * A write-once store refused a write because an object is already stored under the key: the same
 * bytes are a retry of this write ('already_exists'); different bytes (or none readable) are an
 * integrity finding, never accepted silently. Shared by the S3 and the in-memory evidence stores.
 */
export function sameBytesOrIntegrityError(
  location: string,
  key: string,
  stored: Uint8Array | undefined,
  body: Uint8Array,
): 'already_exists' {
  if (stored && Buffer.from(stored).equals(Buffer.from(body))) return 'already_exists';
  const found = stored
    ? `sha256 ${sha256Hex(stored)}, ${stored.byteLength} bytes`
    : 'an object that cannot be read back';
  throw new EvidenceIntegrityError(
    `${location} is write-once and holds different bytes (${found}) than this write (sha256 ${sha256Hex(body)}, ${body.byteLength} bytes)`,
    key,
  );
}
