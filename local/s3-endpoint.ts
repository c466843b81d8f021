import S3rver from 's3rver';
import type { Context, Next } from 'koa';

/**
 * A local S3 endpoint on 127.0.0.1 (s3rver), data kept in `directory`. s3rver ignores
 * `If-None-Match: *`; write-once is the point of the evidence bucket, so a small middleware in front of
 * it answers 412 when the object exists, as S3 does. (Object Lock itself is proven by CDK assertions.)
 */
export async function startS3Endpoint(directory: string, port = 0): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const server = new S3rver({ port, address: '127.0.0.1', directory, silent: true, configureBuckets: [] });
  const store = (server as unknown as { store: { existsObject(bucket: string, key: string): Promise<boolean> } }).store;
  const writeOnce = async (ctx: Context, next: Next) => {
    if (ctx.method === 'PUT' && ctx.get('if-none-match') === '*' && !ctx.get('x-amz-copy-source')) {
      const [bucket, ...keyParts] = ctx.path.slice(1).split('/');
      const key = keyParts.map(decodeURIComponent).join('/');
      if (bucket && key && (await store.existsObject(decodeURIComponent(bucket), key))) {
        ctx.status = 412;
        ctx.type = 'application/xml';
        ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>';
        return;
      }
    }
    await next();
  };
  (server as unknown as { middleware: unknown[] }).middleware.unshift(writeOnce);
  const address = (await server.run()) as { address: string; port: number };
  return { endpoint: `http://127.0.0.1:${address.port}`, stop: () => server.close() };
}
