import type { JobDefinition } from '../../../contracts';
import type { JobImplementation } from '../types';
import { httpJob } from './http';
import { lambdaJob } from './lambda';
import type { JobKindPorts } from './ports';

/** The implementations of the catalog's jobs that have no code of their own (http and lambda). */
export function kindJobs(jobs: readonly JobDefinition[], ports: JobKindPorts): JobImplementation[] {
  return jobs.flatMap((job) => {
    const spec = job.implementation;
    if (spec?.kind === 'http') return [httpJob(job, spec, ports.secrets)];
    if (spec?.kind === 'lambda') return [lambdaJob(job, spec, ports.functions)];
    return [];
  });
}
