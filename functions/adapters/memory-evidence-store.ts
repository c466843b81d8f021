import type { EvidenceStore } from '../core/ports';
import { sameBytesOrIntegrityError } from './write-once';

/**
 * The evidence bucket in memory, for rule-level tests, with S3EvidenceStore's semantics: write-once
 * (the bytes already stored decide between 'already_exists' and an integrity error), keys listed in
 * order under a prefix, undefined for a missing object. Bytes are copied in and out
 * (docs/testing.md).
 */
export class MemoryEvidenceStore implements EvidenceStore {
  private readonly objects = new Map<string, { body: Uint8Array; contentType: string }>();

  constructor(private readonly bucket = 'memory') {}

  async putObject(
    key: string,
    body: Uint8Array,
    contentType: string,
  ): Promise<'written' | 'already_exists'> {
    const existing = this.objects.get(key);
    if (existing)
      return sameBytesOrIntegrityError(
        `memory://${this.bucket}/${key}`,
        key,
        new Uint8Array(existing.body),
        body,
      );
    this.objects.set(key, { body: new Uint8Array(body), contentType });
    return 'written';
  }

  async getObject(key: string): Promise<Uint8Array | undefined> {
    const object = this.objects.get(key);
    return object ? new Uint8Array(object.body) : undefined;
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((key) => key.startsWith(prefix)).sort();
  }
}
