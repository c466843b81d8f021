import { DependencyError, JobFailedError } from '../../functions/core/errors';
import type { JobImplementation } from '../../functions/jobs/types';

/** A job whose only effect is a counter, so a test can count effects. */
export function countingJob(jobId: string, delayMs = 0): JobImplementation & { effects: string[] } {
  const effects: string[] = [];
  return {
    jobId,
    effects,
    async run({ run }) {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      effects.push(run.jobRunId);
      return { quality: 'OK', outputs: [{ name: 'effect.txt', contentType: 'text/plain', body: `effect ${effects.length}\n` }], integrityReport: null, diagnostics: [] };
    },
  };
}

/** A job that always fails without retry (a validation error, like an HTTP 422 from a dependency). */
export function failingJob(jobId: string): JobImplementation & { calls: number } {
  const job = {
    jobId,
    calls: 0,
    async run(): Promise<never> {
      job.calls++;
      throw new JobFailedError('validation', 'the dependency answered 422: payload rejected');
    },
  };
  return job;
}

/** A job that fails with a retryable dependency error a given number of times, then succeeds. */
export function flakyJob(jobId: string, failures: number): JobImplementation & { calls: number } {
  const job = {
    jobId,
    calls: 0,
    async run() {
      job.calls++;
      if (job.calls <= failures) throw new DependencyError(`dependency answered 503 (call ${job.calls})`);
      return { quality: 'OK' as const, outputs: [], integrityReport: null, diagnostics: [] };
    },
  };
  return job;
}
