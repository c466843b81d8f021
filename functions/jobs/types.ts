import type { Diagnostic, IntegrityReport, JobDefinition, JobOutput, Quality, RunContext } from '../../contracts';
import type { Clock } from '../core/clock';
import type { ResolvedPolicy } from '../core/policy';
import type { EvidenceReader, JobStateReader } from '../core/ports';

export interface JobContext {
  job: JobDefinition;
  run: RunContext;
  policy: ResolvedPolicy;
  clock: Clock;
  state: JobStateReader;
  evidence: EvidenceReader;
  /** The job's own log: redacted, then written with the step's structured logger. */
  log: (message: string, details?: Record<string, unknown>) => void;
}

export interface JobResult {
  quality: Quality;
  outputs: JobOutput[];
  integrityReport: IntegrityReport | null;
  diagnostics: Diagnostic[];
}

/** A job's own logic. It throws typed errors (functions/core/errors) to fail the run. */
export interface JobImplementation {
  jobId: string;
  run(context: JobContext): Promise<JobResult>;
}

export type JobRegistry = ReadonlyMap<string, JobImplementation>;
