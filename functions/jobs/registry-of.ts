import type { JobImplementation, JobRegistry } from './types';

/**
 * A registry of job implementations; a job id may be implemented once. The built-in jobs are in
 * functions/jobs/registry.ts, which only what runs jobs imports (docs/failure-semantics.md#cold-start).
 */
export function registryOf(jobs: readonly JobImplementation[]): JobRegistry {
  const registry = new Map<string, JobImplementation>();
  for (const job of jobs) {
    if (registry.has(job.jobId)) throw new Error(`job '${job.jobId}' is implemented twice`);
    registry.set(job.jobId, job);
  }
  return registry;
}
