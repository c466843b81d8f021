/**
 * The one bundling definition of every opsrail Lambda. `OpsrailFunction` hands it to CDK's
 * NodejsFunction (which runs the local esbuild CLI); `local/bundles.ts` hands it to the esbuild API
 * to build the very same bundles for `OPSRAIL_HANDLERS=bundled` and the tests. Why each option:
 * docs/failure-semantics.md ("What ships is what is tested").
 */
export const lambdaBundling = {
  format: 'cjs',
  target: 'node24',
  minify: true,
  // No keepNames: it wraps every function and class of every bundled module (zod, luxon,
  // Powertools) in a name-keeping call run at module init, ~3 ms of each function's cold start. The
  // names the ASL's Retry and Catch match are stated as strings by the error classes themselves
  // (functions/core/errors.ts), which minification leaves alone.
  keepNames: false,
  // No source map: Lambda starts Node without --enable-source-maps, so a map is 2 MB nobody reads,
  // and enabling it slows every init.
  sourceMap: false,
  // The AWS SDK v3 comes from the Node.js 24 runtime, as NodejsFunction's default does: bundled, it
  // was two thirds of every bundle. The local stack resolves it from the package's own
  // dependencies, the way Lambda resolves it from the runtime (docs/failure-semantics.md,
  // "The AWS SDK is the runtime's").
  externalModules: ['@aws-sdk/*'] as string[],
} as const;

/** Whether a bare module name is one the Lambda runtime provides (see `externalModules`). */
export const isRuntimeProvided = (moduleName: string): boolean =>
  lambdaBundling.externalModules.some((pattern) =>
    pattern.endsWith('/*') ? moduleName.startsWith(pattern.slice(0, -1)) : moduleName === pattern,
  );

/** The file a bundle's handler is in, as NodejsFunction writes it for CJS (`<asset>/index.js`). */
export const BUNDLE_FILE = 'index.js';
