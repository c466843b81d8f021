import type {
  Diagnostic,
  IntegrityReport,
  JobDefinition,
  JobOutput,
  Quality,
  RunContext,
} from '../../contracts';
import type { Clock } from '../core/clock';
import type { ResolvedPolicy } from '../core/policy';
import type { EvidenceReader, JobStateReader, StateStore } from '../core/ports';
import type { ControlDependencies } from '../core/controls';
import type { WebhookPorts } from '../core/webhook-delivery';
import type { SecretReader } from './kinds/ports';
import type { Notify } from '../core/notifications';

export interface JobContext {
  job: JobDefinition;
  run: RunContext;
  policy: ResolvedPolicy;
  clock: Clock;
  state: JobStateReader & Pick<StateStore, 'listOpenRuns' | 'listRuns'>;
  evidence: EvidenceReader;
  /** Reads a secret's value by its secret_ref at run time; the value is never stored or logged. */
  secrets: SecretReader;
  /** What a webhook delivery reaches (functions/core/webhook-delivery.ts): HTTP, sleep, jitter. */
  webhooks: Omit<WebhookPorts, 'clock'>;
  /**
   * Tells people through the stage's notification chain (Slack → GitHub issue → log,
   * docs/notifications.md); the record it returns belongs in the run's evidence.
   */
  notify: Notify;
  /**
   * For the built-in control jobs only (releasing a quarantine, a kill-switch, relaxing safety):
   * the state and control evidence.
   */
  control: ControlDependencies;
  /** The package version running the job (as in replay_pointers), for what a job writes itself. */
  codeVersion?: string;
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
  /** Its catalog params' schema, checked when the policy loads (defineJob's `params`). */
  params?: import('zod').ZodType;
  run(context: JobContext): Promise<JobResult>;
  /**
   * For a dangerous op: what exactly a run would do (a dry run), shown to the approver before it
   * runs.
   */
  plan?(context: JobContext): Promise<{ summary: string; details: Record<string, unknown> }>;
}

export type JobRegistry = ReadonlyMap<string, JobImplementation>;
