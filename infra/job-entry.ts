import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths';

/**
 * The construct context key under which the Opsrail construct tells its functions what to bundle.
 */
export const BUNDLE_CONTEXT = 'opsrail:bundle';

/** What a user's app bundles into opsrail's functions: its policy files and its job modules. */
export interface JobBundle {
  policyFiles: Record<string, unknown>;
  modules: { jobId: string; file: string }[];
  /** The user's project (the lock file and the generated entries are under it). */
  projectRoot: string;
}

/**
 * The entry CDK bundles for one function of a user's app: it hands the bundled policy and the job
 * modules (checked to be defineJob modules of the catalog's ids) to the handler before its first
 * invocation, then exports opsrail's own handler. Written under <projectRoot>/.opsrail/entries,
 * named by its content, so the same inputs give the same file and the same asset.
 */
export function jobEntry(functionDir: string, bundle: JobBundle): string {
  const lib = (path: string) => JSON.stringify(join(REPO_ROOT, path));
  const lines = [
    `import { configureBundle } from ${lib('functions/adapters/bundle-config.ts')};`,
    `import { checkedModule } from ${lib('functions/jobs/modules.ts')};`,
    ...bundle.modules.map((m, i) => `import job${i} from ${JSON.stringify(m.file)};`),
    `configureBundle({ policyFiles: ${JSON.stringify(bundle.policyFiles)}, jobs: [${bundle.modules.map((m, i) => `checkedModule(job${i}, ${JSON.stringify(m.jobId)}, ${JSON.stringify(m.file)})`).join(', ')}] });`,
    `export { handler } from ${lib(`functions/${functionDir}/handler.ts`)};`,
    '',
  ];
  const text = lines.join('\n');
  const dir = join(
    bundle.projectRoot,
    '.opsrail',
    'entries',
    createHash('sha256').update(text).digest('hex').slice(0, 16),
  );
  const file = join(dir, `${functionDir}.ts`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, text);
  }
  return file;
}

/**
 * The lock file NodejsFunction pins dependencies by: the user's project's, else this package's own.
 */
export function lockFileOf(projectRoot: string): string {
  for (const name of ['package-lock.json', 'pnpm-lock.yaml', 'yarn.lock'])
    if (existsSync(join(projectRoot, name))) return join(projectRoot, name);
  return join(REPO_ROOT, 'package-lock.json');
}
