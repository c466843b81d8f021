import type * as z from 'zod';
import {
  BUILTIN_JOB_IDS,
  builtinJobParams,
  Catalog,
  isReportJob,
  JobDefinition,
  StagePolicy,
  type Stage,
  type PolicySnapshotRef,
} from '../../contracts';
import { ValidationError, validationErrorOf, zodIssues } from './errors';
import { canonicalJson, sha256Hex } from './hashing';

/**
 * The policy in force for one stage: the stage's settings and the catalog resolved against them.
 */
export interface ResolvedPolicy {
  stage: Stage;
  settings: StagePolicy;
  jobs: JobDefinition[];
  snapshot: PolicySnapshotRef;
}

/** Where policy files come from: the directory on disk locally, the files bundled into a Lambda. */
export interface PolicySource {
  /** Raw text of a file in policy/, or undefined when it does not exist. */
  read(fileName: string): string | undefined;
  describe(fileName: string): string;
}

function parseFile<T extends z.ZodType>(
  source: PolicySource,
  fileName: string,
  schema: T,
): z.infer<T> {
  const where = source.describe(fileName);
  const text = source.read(fileName);
  if (text === undefined)
    throw new ValidationError(where, [{ path: '', message: 'file not found' }]);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ValidationError(
      where,
      [{ path: '', message: `not valid JSON (${(cause as Error).message})` }],
      { cause },
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw validationErrorOf(where, parsed.error);
  return parsed.data;
}

/** The job ids that have an implementation (the jobs registry): what a stage may enable. */
export interface ImplementedJobs {
  has(jobId: string): boolean;
  /** A job module's params schema (defineJob), checked like a built-in job's. */
  get?(jobId: string): { params?: z.ZodType } | undefined;
}

/**
 * Reads and validates policy/ for a stage. With `implemented`, a catalog job that nothing
 * implements (not built in, no module in the jobs directory, no http or lambda implementation) is a
 * policy error naming it, at load, not a failure counted against it when it runs
 * (docs/writing-a-job.md).
 */
export function loadPolicy(
  source: PolicySource,
  stage: Stage,
  implemented?: ImplementedJobs,
): ResolvedPolicy {
  const catalog = parseFile(source, 'catalog.json', Catalog);
  const settings = parseFile(source, `${stage}.json`, StagePolicy);
  const stageFile = source.describe(`${stage}.json`);
  const catalogFile = source.describe('catalog.json');
  if (settings.stage !== stage) {
    throw new ValidationError(stageFile, [
      { path: 'stage', message: `says '${settings.stage}' but the file is for stage '${stage}'` },
    ]);
  }
  const seen = new Map<string, number>();
  catalog.jobs.forEach((job, index) => {
    const earlier = seen.get(job.jobId);
    if (earlier !== undefined) {
      throw new ValidationError(catalogFile, [
        {
          path: `jobs.${index}.jobId`,
          message: `'${job.jobId}' is already declared at jobs.${earlier}: job ids are never reused`,
        },
      ]);
    }
    seen.set(job.jobId, index);
  });
  for (const jobId of Object.keys(settings.jobs)) {
    if (!seen.has(jobId))
      throw new ValidationError(stageFile, [
        { path: `jobs.${jobId}`, message: 'is not declared in catalog.json (no hidden jobs)' },
      ]);
  }
  const jobs = catalog.jobs.map((entry, index) => {
    const switches = settings.jobs[entry.jobId];
    const merged = {
      ...entry,
      environment: settings.environment,
      // A report job needs its own switch and the reports' global one (docs/reports.md#switches).
      enabled:
        (switches?.enabled ?? false) && (!isReportJob(entry.jobId) || settings.reports.enabled),
      mode: switches?.mode ?? entry.mode,
      schedule: { timezone: settings.timezone, ...entry.schedule, ...switches?.schedule },
      params: { ...entry.params, ...switches?.params },
    };
    merged.idempotent = idempotenceOf(entry, index, merged.enabled, catalogFile);
    const paramsSchema = builtinJobParams[entry.jobId] ?? implemented?.get?.(entry.jobId)?.params;
    if (paramsSchema) {
      const params = paramsSchema.safeParse(merged.params);
      if (!params.success) {
        const where = switches?.params ? stageFile : catalogFile;
        const prefix = switches?.params ? `jobs.${entry.jobId}.params` : `jobs.${index}.params`;
        throw new ValidationError(where, zodIssues(params.error, prefix));
      }
      merged.params = params.data as Record<string, unknown>;
    }
    const job = JobDefinition.safeParse(merged);
    if (!job.success)
      throw new ValidationError(stageFile, zodIssues(job.error, `jobs.${entry.jobId}`));
    return job.data;
  });
  jobs.forEach((job, index) => {
    const kind = job.implementation?.kind;
    if (implemented && kind !== 'http' && kind !== 'lambda' && !implemented.has(job.jobId)) {
      const module =
        job.implementation?.kind === 'module'
          ? (job.implementation.module ?? `${job.jobId}.ts`)
          : `${job.jobId}.ts`;
      if (job.enabled)
        throw new ValidationError(stageFile, [
          {
            path: `jobs.${job.jobId}.enabled`,
            message: `enables job '${job.jobId}', which has no implementation (not a built-in job, no module ${module} in the jobs directory, nor one given to the runtime)`,
          },
        ]);
      throw new ValidationError(catalogFile, [
        {
          path: `jobs.${index}.implementation`,
          message: `job '${job.jobId}' has no implementation: not a built-in job, no module ${module} in the jobs directory, nor an http or lambda implementation`,
        },
      ]);
    }
    const standIn = settings.jobs[job.jobId]?.standIn;
    if (standIn && (stage !== 'local' || kind !== 'lambda')) {
      throw new ValidationError(stageFile, [
        {
          path: `jobs.${job.jobId}.standIn`,
          message:
            stage !== 'local'
              ? 'a stand-in is for the local stage only'
              : `job '${job.jobId}' is not a lambda job`,
        },
      ]);
    }
    if (stage === 'local' && kind === 'lambda' && job.enabled && !standIn) {
      throw new ValidationError(stageFile, [
        {
          path: `jobs.${job.jobId}.standIn`,
          message: `lambda job '${job.jobId}' is enabled locally: name a stand-in (a module or a local URL) for its function`,
        },
      ]);
    }
  });
  const snapshot = { stage, sha256: sha256Hex(canonicalJson({ settings, jobs })) };
  return { stage, settings, jobs, snapshot };
}

/**
 * opsrail's own jobs are idempotent unless the catalog says otherwise. A user job enabled in a
 * stage must say, because the answer decides whether a run whose holder died is run again
 * (docs/crash-safety.md); a job that is only declared may stay silent until it is enabled.
 */
function idempotenceOf(
  entry: { jobId: string; idempotent?: boolean | undefined },
  index: number,
  enabled: boolean,
  catalogFile: string,
): boolean | undefined {
  if (entry.idempotent !== undefined) return entry.idempotent;
  if ((BUILTIN_JOB_IDS as readonly string[]).includes(entry.jobId)) return true;
  if (!enabled) return undefined;
  throw new ValidationError(catalogFile, [
    {
      path: `jobs.${index}.idempotent`,
      message: `job '${entry.jobId}' is enabled but does not say whether running it twice with the same run id is safe: set true or false`,
    },
  ]);
}

export function findJob(policy: ResolvedPolicy, jobId: string): JobDefinition | undefined {
  return policy.jobs.find((job) => job.jobId === jobId);
}
