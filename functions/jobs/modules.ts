import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUILTIN_JOB_IDS, Catalog, type CatalogJob } from '../../contracts';
import { ValidationError } from '../core/errors';
import { isDefinedJob } from './define-job';
import type { JobImplementation } from './types';

/**
 * The jobs directory: $OPSRAIL_JOBS_DIR, else `jobs/` beside the policy directory
 * (docs/writing-a-job.md).
 */
export function jobsDirFor(
  policyDir: string,
  override: string | undefined = process.env.OPSRAIL_JOBS_DIR,
): string {
  return resolve(override || join(dirname(resolve(policyDir)), 'jobs'));
}

/**
 * The module file a catalog job's behaviour is in, or undefined for a built-in, http or lambda job.
 */
export function moduleFileOf(
  job: Pick<CatalogJob, 'jobId' | 'implementation'>,
  jobsDir: string,
): string | undefined {
  const impl = job.implementation;
  if (impl && impl.kind !== 'module') return undefined;
  if (!impl && (BUILTIN_JOB_IDS as readonly string[]).includes(job.jobId)) return undefined;
  return join(jobsDir, impl?.module ?? `${job.jobId}.ts`);
}

/**
 * The catalog's module jobs and their files (a catalog that does not parse yields none: loadPolicy
 * reports it).
 */
export function catalogModules(
  policyDir: string,
  jobsDir: string = jobsDirFor(policyDir),
): { jobId: string; file: string }[] {
  const path = join(policyDir, 'catalog.json');
  if (!existsSync(path)) return [];
  let parsed;
  try {
    parsed = Catalog.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return [];
  }
  if (!parsed.success) return [];
  return parsed.data.jobs.flatMap((job) => {
    const file = moduleFileOf(job, jobsDir);
    return file ? [{ jobId: job.jobId, file }] : [];
  });
}

/**
 * Loads, in this process, each module job the catalog names whose file exists. A missing file is
 * left for loadPolicy to report as a job without implementation; a file that is not a defineJob
 * module, or defines another job id, is an error naming the file.
 */
export async function loadJobModules(
  policyDir: string,
  jobsDir: string = jobsDirFor(policyDir),
): Promise<JobImplementation[]> {
  const jobs: JobImplementation[] = [];
  for (const { jobId, file } of catalogModules(policyDir, jobsDir)) {
    if (!existsSync(file)) continue;
    const loaded = (await import(pathToFileURL(file).href)) as { default?: unknown };
    jobs.push(checkedModule(loaded.default, jobId, file));
  }
  return jobs;
}

/** A module's default export, checked to be the catalog's job. */
export function checkedModule(value: unknown, jobId: string, file: string): JobImplementation {
  if (!isDefinedJob(value))
    throw new ValidationError(file, [
      {
        path: 'default',
        message:
          'must be the default export of defineJob({ jobId, params, run, plan? }) from opsrail',
      },
    ]);
  if (value.jobId !== jobId)
    throw new ValidationError(file, [
      {
        path: 'jobId',
        message: `defines '${value.jobId}', but the catalog names this module for '${jobId}'`,
      },
    ]);
  return value;
}
