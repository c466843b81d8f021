import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { HandlerEnv } from '../../contracts';
import { EvidenceManifest } from '../../contracts';
import { sha256Hex } from '../../functions/core/hashing';
import type { EvidenceReader } from '../../functions/core/ports';

export async function listKeys(env: HandlerEnv, prefix: string): Promise<string[]> {
  const s3 = new S3Client({
    region: env.AWS_REGION,
    endpoint: env.AWS_ENDPOINT_URL_S3,
    forcePathStyle: true,
  });
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: env.EVIDENCE_BUCKET_NAME,
        Prefix: prefix,
        ContinuationToken: token,
      }),
    );
    keys.push(...(page.Contents ?? []).map((c) => c.Key as string));
    token = page.NextContinuationToken;
  } while (token);
  s3.destroy();
  return keys.sort();
}

/**
 * Re-reads a bundle independently of the product's own check: every listed object's hash and size.
 */
export async function readVerifiedBundle(evidence: EvidenceReader, manifestKey: string) {
  const bytes = await evidence.getObject(manifestKey);
  if (!bytes) throw new Error(`no manifest at ${manifestKey}`);
  const manifest = EvidenceManifest.parse(JSON.parse(new TextDecoder().decode(bytes)));
  // Keyed by a short name: `audit.jsonl`, `run_record.json`, `outputs/effect.txt` (the kind, not
  // the run's file).
  const objects: Record<string, string> = {};
  for (const object of manifest.objects) {
    const body = await evidence.getObject(`${manifest.prefix}${object.name}`);
    if (!body) throw new Error(`missing ${object.name}`);
    if (body.byteLength !== object.size || sha256Hex(body) !== object.sha256)
      throw new Error(`${object.name} does not match its manifest entry`);
    const [folder, file] = object.name.split('/') as [string, string];
    const short =
      folder === 'outputs'
        ? `outputs/${object.name.split('/').slice(2).join('/')}`
        : `${folder}.${file.split('.').pop()}`;
    objects[short] = new TextDecoder().decode(body);
  }
  return { manifest, manifestSha256: sha256Hex(bytes), objects };
}
