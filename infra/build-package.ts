/**
 * `npm run build`: the package as a construct library consumes it (docs/writing-a-job.md).
 * JavaScript in dist/ (ESM, code shared between entries in chunks, so a job module's `opsrail` and
 * the CLI's runtime are one copy: the same error classes), type declarations in dist/types/. The
 * bin and the construct run from it with no TypeScript loader; the construct bundles the functions
 * from their shipped sources with esbuild, as CDK's NodejsFunction does.
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import packageJson from '../package.json' with { type: 'json' };
import { REPO_ROOT } from './paths';

const dist = join(REPO_ROOT, 'dist');
rmSync(dist, { recursive: true, force: true });
await build({
  absWorkingDir: REPO_ROOT,
  entryPoints: { cli: 'cli/main.ts', api: 'functions/jobs/api.ts', cdk: 'infra/index.ts' },
  outdir: dist,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  // Dependencies stay dependencies: resolved from node_modules at run time, never copied in.
  packages: 'external',
  // A tsconfig path would point 'opsrail' back at the source; in the package it is the package
  // itself.
  tsconfigRaw: {},
  sourcemap: true,
  logLevel: 'warning',
});
// The state machine definition is read from beside the code that reads it.
copyFileSync(join(REPO_ROOT, 'statemachines/job-run.asl.json'), join(dist, 'job-run.asl.json'));
copyFileSync(join(REPO_ROOT, 'contracts/named-queries.sql'), join(dist, 'named-queries.sql'));
mkdirSync(join(dist, 'types'), { recursive: true });
execFileSync(
  process.execPath,
  [
    join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
    '-p',
    join(REPO_ROOT, 'tsconfig.build.json'),
  ],
  { stdio: 'inherit' },
);
console.log(
  `built ${packageJson.name} ${packageJson.version} into dist/ (cli.js, api.js, cdk.js, types/)`,
);
