import type { S3Client } from '@aws-sdk/client-s3';
import { sha256Base64 } from '../core/hashing';
import type { EvidenceStore } from '../core/ports';
import { sdk } from './aws-sdk';
import { wrapAwsError } from './aws-errors';
import { sameBytesOrIntegrityError } from './write-once';

const CONFLICT_RETRIES = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The evidence bucket over S3. Its commands come from the S3 client module the caller's client was
 * made from (already loaded when there is a client): the class itself loads no SDK, so a function
 * can import it statically and still load S3 only at its first evidence read or write
 * (functions/adapters/aws-sdk.ts).
 */
export class S3EvidenceStore implements EvidenceStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  /**
   * Write-once: `If-None-Match: *` makes S3 refuse to replace an object (412). The stored bytes are
   * then compared: the same bytes are a retry of this write ("already there"); different bytes are
   * an integrity finding (EvidenceIntegrityError), never accepted silently. A 409 means a
   * concurrent conditional write was in flight: try again. The SHA-256 checksum makes S3 reject a
   * body corrupted in transit, and satisfies Object Lock's integrity-header requirement.
   */
  async putObject(
    key: string,
    body: Uint8Array,
    contentType: string,
  ): Promise<'written' | 'already_exists'> {
    const { PutObjectCommand } = await sdk.s3();
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: body,
            ContentType: contentType,
            IfNoneMatch: '*',
            ChecksumAlgorithm: 'SHA256',
            ChecksumSHA256: sha256Base64(body),
          }),
        );
        return 'written';
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata
          ?.httpStatusCode;
        if (status === 412) return this.compareExisting(key, body);
        if (status === 409 && attempt < CONFLICT_RETRIES) {
          await sleep(100 * 2 ** attempt);
          continue;
        }
        throw wrapAwsError(`S3 PutObject s3://${this.bucket}/${key}`, error);
      }
    }
  }

  private async compareExisting(key: string, body: Uint8Array): Promise<'already_exists'> {
    return sameBytesOrIntegrityError(
      `s3://${this.bucket}/${key}`,
      key,
      await this.getObject(key),
      body,
    );
  }

  async getObject(key: string): Promise<Uint8Array | undefined> {
    const { GetObjectCommand } = await sdk.s3();
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'NoSuchKey' || name === 'NotFound') return undefined;
      throw wrapAwsError(`S3 GetObject s3://${this.bucket}/${key}`, error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const { ListObjectsV2Command } = await sdk.s3();
    const keys: string[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ContinuationToken: token,
          }),
        );
      } catch (error) {
        throw wrapAwsError(`S3 ListObjectsV2 s3://${this.bucket}/${prefix}`, error);
      }
      keys.push(...(page.Contents ?? []).map((c) => c.Key as string));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }
}
