import { buildSync, type BuildOptions } from 'esbuild';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import { BUNDLE_FILE, lambdaBundling } from '../infra/bundling';
import { REPO_ROOT } from '../infra/paths';

/** Every shipped function folder under functions/ (each has handler.ts): what infra bundles. */
export const SHIPPED_FUNCTIONS = [
  'preflight',
  'execute',
  'finalize',
  'record-failure',
  'request-approval',
  'execution-ended',
  'approval-endpoint',
  'slack-interaction',
] as const;
export type ShippedFunction = (typeof SHIPPED_FUNCTIONS)[number];

/**
 * The esbuild API options equal to the CLI arguments NodejsFunction builds from infra/bundling.ts.
 */
export function esbuildOptions(functionDir: string, outfile: string): BuildOptions {
  return {
    entryPoints: [join(REPO_ROOT, 'functions', functionDir, 'handler.ts')],
    absWorkingDir: REPO_ROOT,
    outfile,
    bundle: true,
    platform: 'node',
    target: lambdaBundling.target,
    format: lambdaBundling.format,
    minify: lambdaBundling.minify,
    keepNames: lambdaBundling.keepNames,
    sourcemap: lambdaBundling.sourceMap,
    external: [...lambdaBundling.externalModules],
    metafile: true,
    logLevel: 'silent',
  };
}

const requireHere = createRequire(import.meta.url);

/**
 * The `@aws-sdk` folder this package's SDK dependency is installed in: what the local stack offers
 * a bundle in place of the Lambda runtime's own SDK (infra/bundling.ts `externalModules`).
 */
export function runtimeSdkDir(): string {
  const entry = requireHere.resolve('@aws-sdk/client-dynamodb');
  const marker = `${sep}@aws-sdk${sep}`;
  return entry.slice(0, entry.lastIndexOf(marker) + marker.length - 1);
}

/**
 * Lambda resolves `@aws-sdk/*` from the runtime's node_modules; a bundle in `dir` finds this
 * package's SDK beside it (`dir/node_modules/@aws-sdk`), and only that: any other module left
 * outside the bundle fails to load here as it would in Lambda.
 */
export function offerRuntimeSdk(dir: string): void {
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(runtimeSdkDir(), join(dir, 'node_modules', '@aws-sdk'), 'dir');
}

interface BuildRecord {
  options: string;
  /** Every input file with its size and mtime when the bundle was built. */
  inputs: Record<string, string>;
}

const stamp = (path: string): string => {
  const stat = statSync(path, { throwIfNoEntry: false });
  return stat ? `${stat.size}:${stat.mtimeMs}` : 'missing';
};

const isFresh = (dir: string, options: string): boolean => {
  const recordPath = join(dir, 'build.json');
  if (!existsSync(recordPath) || !existsSync(join(dir, BUNDLE_FILE))) return false;
  const record = JSON.parse(readFileSync(recordPath, 'utf8')) as BuildRecord;
  if (record.options !== options) return false;
  return Object.entries(record.inputs).every(([file, was]) => stamp(join(REPO_ROOT, file)) === was);
};

/**
 * Builds one function's bundle into `<cacheDir>/<functionDir>/index.js` with the shipped options,
 * unless the bundle there was built from the same options and unchanged sources (esbuild's own
 * list of inputs, with their sizes and mtimes). Returns the bundle's path.
 */
export function buildBundle(functionDir: string, cacheDir: string): string {
  const dir = join(cacheDir, functionDir);
  const outfile = join(dir, BUNDLE_FILE);
  const options = createHash('sha256')
    .update(JSON.stringify(esbuildOptions(functionDir, outfile)))
    .digest('hex');
  if (isFresh(dir, options)) return outfile;
  // Built aside and renamed into place, so a concurrent builder or loader never sees half a bundle.
  const staging = `${dir}.${process.pid}.${randomBytes(4).toString('hex')}`;
  mkdirSync(staging, { recursive: true });
  // The same options but this outfile: minified code does not depend on where it is written.
  const { metafile } = buildSync({
    ...esbuildOptions(functionDir, outfile),
    outfile: join(staging, BUNDLE_FILE),
  });
  const inputs = Object.fromEntries(
    Object.keys(metafile?.inputs ?? {}).map((file) => [file, stamp(join(REPO_ROOT, file))]),
  );
  writeFileSync(
    join(staging, 'build.json'),
    `${JSON.stringify({ options, inputs } satisfies BuildRecord)}\n`,
  );
  // The asset Lambda runs has no package.json: its index.js is CommonJS. Here the repo's
  // package.json ("type": "module") may be an ancestor, so say so explicitly.
  writeFileSync(join(staging, 'package.json'), '{"type":"commonjs"}\n');
  offerRuntimeSdk(staging);
  rmSync(dir, { recursive: true, force: true });
  try {
    renameSync(staging, dir);
  } catch (error) {
    // Another builder won the race with the same sources: use its bundle.
    rmSync(staging, { recursive: true, force: true });
    if (!isFresh(dir, options)) throw error;
  }
  return outfile;
}

const requireBundle = requireHere;

/**
 * Loads a fresh instance of a bundle (its own module state, as a new Lambda sandbox has), so two
 * local runtimes in one process never share a bundled handler's cached environment.
 */
export function loadBundle<T = Record<string, unknown>>(bundlePath: string): T {
  const resolved = requireBundle.resolve(bundlePath);
  delete requireBundle.cache[resolved];
  try {
    return requireBundle(resolved) as T;
  } finally {
    delete requireBundle.cache[resolved];
  }
}
