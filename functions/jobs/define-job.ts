import type * as z from 'zod';
import type { Diagnostic, IntegrityReport, JobOutput, Quality } from '../../contracts';
import type { JobContext, JobImplementation, JobResult } from './types';

/**
 * Marks what defineJob made, across copies of the package (a user's module may load its own copy).
 */
const DEFINED = Symbol.for('opsrail.defineJob');

/**
 * What a module job's `run` and `plan` receive: the run's context and its parameters, parsed by the
 * job's schema.
 */
export interface ModuleJobContext<P> extends JobContext {
  params: P;
}

/** What `run` returns; outputs (≤ 200 KiB in all) and diagnostics default to none. */
export interface ModuleJobResult {
  quality: Quality;
  outputs?: JobOutput[];
  diagnostics?: Diagnostic[];
  integrityReport?: IntegrityReport | null;
}

export interface JobSpec<S extends z.ZodType> {
  /** The catalog's jobId for this module (checked when the policy loads). */
  jobId: string;
  /**
   * The job's params (catalog `params` with the stage's on top), validated when the policy loads.
   */
  params?: S;
  /**
   * The job's effect. Throw opsrail's typed errors to fail the run (docs/writing-a-job.md#errors).
   */
  run(context: ModuleJobContext<z.output<S>>): Promise<ModuleJobResult>;
  /**
   * A dangerous job's dry run: what exactly a run would do, shown to the approver and bound to the
   * approval.
   */
  plan?(
    context: ModuleJobContext<z.output<S>>,
  ): Promise<{ summary: string; details: Record<string, unknown> }>;
}

export type DefinedJob = JobImplementation & { readonly [DEFINED]: true };

/**
 * A job written as a module in the user's jobs directory (docs/writing-a-job.md): its default
 * export is `defineJob({ jobId, params, run, plan? })`. The params schema is checked when the
 * policy loads, so a bad parameter fails `opsrail jobs`, the local runtime and `cdk synth`, never a
 * 3 a.m. run.
 */
export function defineJob<S extends z.ZodType>(spec: JobSpec<S>): DefinedJob {
  const withParams = (context: JobContext): ModuleJobContext<z.output<S>> => ({
    ...context,
    params: (spec.params
      ? spec.params.parse(context.job.params)
      : context.job.params) as z.output<S>,
  });
  const job: DefinedJob = {
    [DEFINED]: true,
    jobId: spec.jobId,
    ...(spec.params ? { params: spec.params } : {}),
    async run(context): Promise<JobResult> {
      const result = await spec.run(withParams(context));
      return {
        quality: result.quality,
        outputs: result.outputs ?? [],
        diagnostics: result.diagnostics ?? [],
        integrityReport: result.integrityReport ?? null,
      };
    },
  };
  if (spec.plan) {
    const plan = spec.plan;
    job.plan = (context) => plan(withParams(context));
  }
  return job;
}

export const isDefinedJob = (value: unknown): value is DefinedJob =>
  typeof value === 'object' &&
  value !== null &&
  (value as Record<symbol, unknown>)[DEFINED] === true;
