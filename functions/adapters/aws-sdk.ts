/**
 * The AWS SDK clients beyond DynamoDB, each loaded the first time a function uses it. A static
 * import would load every client at every cold start of every function that bundles the adapter
 * (Preflight would load S3, Lambda and Secrets Manager it never calls); the SDK comes from the
 * Lambda runtime (infra/bundling.ts), so a dynamic import here is a `require` deferred to first
 * use. Why and what it costs: docs/failure-semantics.md, "Cold start".
 */
export const sdk = {
  s3: () => import('@aws-sdk/client-s3'),
  lambda: () => import('@aws-sdk/client-lambda'),
  secretsManager: () => import('@aws-sdk/client-secrets-manager'),
  sns: () => import('@aws-sdk/client-sns'),
  sfn: () => import('@aws-sdk/client-sfn'),
  cognito: () => import('@aws-sdk/client-cognito-identity-provider'),
};

/** A value built on its first use and shared by every later one (a rejected build is retried). */
export function onFirstUse<T>(build: () => Promise<T>): () => Promise<T> {
  let built: Promise<T> | undefined;
  return () => {
    built ??= build().catch((error: unknown) => {
      built = undefined;
      throw error;
    });
    return built;
  };
}
