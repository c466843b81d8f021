import type { S3Client } from '@aws-sdk/client-s3';
import { Buffer } from 'node:buffer';
import type { ExportCopier } from '../jobs/dataset-export';
import { wrapAwsError } from './aws-errors';
import { onFirstUse, sdk } from './aws-sdk';

/**
 * The optional copy of dataset_export's files to a bucket of the user's (docs/exports.md#copy): one
 * PUT per file with its SHA-256, which S3 checks against the bytes it received (a corrupted upload
 * is refused, not stored). A plain PUT: the same run copies the same bytes to the same key, so a
 * retry overwrites nothing but itself. The job's role may put under `<bucket>/<prefix>` only.
 */
export class S3ExportCopier implements ExportCopier {
  constructor(private readonly client: S3Client) {}

  async put(object: Parameters<ExportCopier['put']>[0]): Promise<void> {
    const { PutObjectCommand } = await sdk.s3();
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: object.bucket,
          Key: object.key,
          Body: object.body,
          ContentType: object.contentType,
          ChecksumAlgorithm: 'SHA256',
          ChecksumSHA256: Buffer.from(object.sha256, 'hex').toString('base64'),
        }),
      );
    } catch (error) {
      throw wrapAwsError(`S3 PutObject s3://${object.bucket}/${object.key}`, error);
    }
  }
}

/**
 * The copier the built-in job uses, its S3 client made at the first copy (a run without `copy`
 * loads no SDK): the function's region, and locally the stack's S3 endpoint (AWS_ENDPOINT_URL_S3).
 */
export function lazyS3ExportCopier(
  env: Record<string, string | undefined> = process.env,
): () => Promise<ExportCopier> {
  return onFirstUse(async () => {
    const { S3Client } = await sdk.s3();
    return new S3ExportCopier(
      new S3Client({
        ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
        forcePathStyle: env.OPSRAIL_S3_FORCE_PATH_STYLE === 'true',
        ...(env.AWS_ENDPOINT_URL_S3 ? { endpoint: env.AWS_ENDPOINT_URL_S3 } : {}),
      }),
    );
  });
}
