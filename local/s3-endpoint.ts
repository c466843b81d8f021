import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import S3rver from 's3rver';
import type { Context, Next } from 'koa';

interface ListResult {
  objects: { key: string }[];
  commonPrefixes: string[];
  isTruncated: boolean;
}
interface Store {
  existsObject(bucket: string, key: string): Promise<boolean>;
  listObjects(bucket: string, options: Record<string, unknown>): Promise<ListResult>;
}
/** What s3rver's filesystem store hands its putObject. */
interface StoredObject {
  bucket: string;
  key: string;
  content: Buffer | Readable;
  metadata: Record<string, string>;
}
interface FilesystemStore extends Store {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(
    bucket: string,
    key: string,
    metadata: Record<string, string>,
    md5: string,
  ): Promise<void>;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
}

/**
 * S3 stores a PUT whole or not at all. s3rver writes the object file in place (and, for a buffered
 * body, answers before the bytes reach the disk), so a kill -9 of the stack's owner during a PUT
 * left a truncated object, which every later write-once PUT of that key then conflicted with for
 * good (docs/local-stack.md#the-local-s3-endpoint). Here the bytes go to a temporary file beside the
 * object (a name s3rver's listing skips), are fsynced, the metadata is written, and only then is
 * the file renamed into place: the object appears complete or not at all.
 */
export function atomicPuts(store: FilesystemStore): void {
  store.putObject = async (object) => {
    const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(objectPath), { recursive: true });
    const partial = `${objectPath}.partial-${randomUUID()}`;
    const md5 = createHash('md5');
    let size = 0;
    try {
      const file = await open(partial, 'wx');
      try {
        const chunks = Buffer.isBuffer(object.content) ? [object.content] : object.content;
        for await (const chunk of chunks as AsyncIterable<Buffer> | Buffer[]) {
          md5.update(chunk);
          size += chunk.length;
          await file.write(chunk);
        }
        await file.sync();
      } finally {
        await file.close();
      }
      const digest = md5.digest('hex');
      await store.putMetadata(object.bucket, object.key, object.metadata, digest);
      await rename(partial, objectPath);
      return { size, md5: digest };
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  };
}

/**
 * ListObjectsV2 continuation tokens that need no cipher. s3rver builds its tokens with DES, which
 * Node 24's OpenSSL refuses, so any listing past 1,000 keys failed with InternalError
 * (docs/local-stack.md). Our token is opaque to clients and names the bucket and the last key of
 * the page, as s3rver's did.
 */
const TOKEN_PREFIX = 'opsrail1.';

export function encodeContinuationToken(bucket: string, lastKey: string): string {
  return (
    TOKEN_PREFIX + Buffer.from(JSON.stringify([bucket, lastKey]), 'utf8').toString('base64url')
  );
}

export function decodeContinuationToken(token: string, bucket: string): string | null {
  if (!token.startsWith(TOKEN_PREFIX)) return null;
  try {
    const value: unknown = JSON.parse(
      Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url').toString('utf8'),
    );
    if (!Array.isArray(value) || value[0] !== bucket || typeof value[1] !== 'string' || !value[1])
      return null;
    return value[1];
  } catch {
    return null;
  }
}

const invalidToken = (ctx: Context) => {
  ctx.status = 400;
  ctx.type = 'application/xml';
  ctx.body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidArgument</Code><Message>The continuation token provided is incorrect</Message><ArgumentName>continuation-token</ArgumentName></Error>';
};

/**
 * Runs in front of s3rver's ListObjectsV2 (after its XML encoder, so the body is still an object):
 * a continuation token becomes `start-after`, and the store is told to answer untruncated so that
 * s3rver never reaches its DES code; the truncation and our own token are put back into the answer.
 */
function pagedListing(store: Store) {
  return async (ctx: Context, next: Next) => {
    const bucketPath = /^\/([^/]+)\/?$/.exec(ctx.path);
    if (ctx.method !== 'GET' || !bucketPath || ctx.query['list-type'] !== '2') return next();
    const bucket = decodeURIComponent(bucketPath[1] as string);
    const query = { ...ctx.query };
    const token = query['continuation-token'];
    if (typeof token === 'string' && token) {
      const startAfter = decodeContinuationToken(token, bucket);
      if (!startAfter) return invalidToken(ctx);
      delete query['continuation-token'];
      query['start-after'] = startAfter;
      ctx.query = query;
    }
    let truncatedAfter: string | null = null;
    // The shared store stays as it is; this request sees one whose listings never say truncated.
    ctx.store = Object.assign(Object.create(store) as Store, {
      listObjects: async (name: string, options: Record<string, unknown>) => {
        const result = await store.listObjects(name, options);
        const last = result.objects.at(-1)?.key;
        if (result.isTruncated && last) truncatedAfter = last;
        return { ...result, isTruncated: false };
      },
    });
    await next();
    const body = ctx.body as { ListBucketResult?: Record<string, unknown> } | undefined;
    if (!body?.ListBucketResult) return;
    if (typeof token === 'string' && token) {
      body.ListBucketResult.StartAfter = undefined;
      body.ListBucketResult.ContinuationToken = token;
    }
    if (truncatedAfter) {
      body.ListBucketResult.IsTruncated = true;
      body.ListBucketResult.NextContinuationToken = encodeContinuationToken(bucket, truncatedAfter);
    }
  };
}

/**
 * A local S3 endpoint on 127.0.0.1 (s3rver), data kept in `directory`. s3rver ignores
 * `If-None-Match: *`; write-once is the point of the evidence bucket, so a small middleware in
 * front of it answers 412 when the object exists, as S3 does. (Object Lock itself is proven by CDK
 * assertions.) Listings page past 1,000 keys through `pagedListing`.
 */
export async function startS3Endpoint(
  directory: string,
  port = 0,
): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    directory,
    silent: true,
    configureBuckets: [],
  });
  const store = (server as unknown as { store: FilesystemStore }).store;
  atomicPuts(store);
  // Conditional writes in flight, by bucket and key: a second one meanwhile gets S3's 409, so the
  // check and the write are one step, as in S3 (without it, concurrent puts of one key all "won").
  const inFlight = new Set<string>();
  const writeOnce = async (ctx: Context, next: Next) => {
    if (ctx.method === 'PUT' && ctx.get('if-none-match') === '*' && !ctx.get('x-amz-copy-source')) {
      const [bucket, ...keyParts] = ctx.path.slice(1).split('/');
      const key = keyParts.map(decodeURIComponent).join('/');
      const id = `${bucket}/${key}`;
      if (bucket && key) {
        if (inFlight.has(id)) {
          ctx.status = 409;
          ctx.type = 'application/xml';
          ctx.body =
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ConditionalRequestConflict</Code><Message>A conflicting conditional operation is currently in progress against this resource. Please try again.</Message></Error>';
          return;
        }
        inFlight.add(id);
        try {
          if (await store.existsObject(decodeURIComponent(bucket), key)) {
            ctx.status = 412;
            ctx.type = 'application/xml';
            ctx.body =
              '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>';
            return;
          }
          return await next();
        } finally {
          inFlight.delete(id);
        }
      }
    }
    await next();
  };
  const middleware = (server as unknown as { middleware: unknown[] }).middleware;
  // Just before s3rver's router (its last middleware), after the XML encoder.
  middleware.splice(middleware.length - 1, 0, pagedListing(store));
  middleware.unshift(writeOnce);
  const address = (await server.run()) as { address: string; port: number };
  return { endpoint: `http://127.0.0.1:${address.port}`, stop: () => server.close() };
}
