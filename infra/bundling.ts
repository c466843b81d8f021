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
  // The ASL's Retry and Catch match error names, and OpsrailError names itself after its class
  // (`new.target.name`): minified without keepNames, DuplicateRunError would be thrown as `e`.
  keepNames: true,
  sourceMap: true,
  sourcesContent: false,
  // The Node.js 24 runtime ships AWS SDK v3, but bundling pins the exact version the tests ran.
  externalModules: [] as string[],
} as const;

/** The file a bundle's handler is in, as NodejsFunction writes it for CJS (`<asset>/index.js`). */
export const BUNDLE_FILE = 'index.js';
