import type { SecretReader } from '../../jobs/kinds/ports';
import type { WebhookPorts } from '../webhook-delivery';
import type { Notify } from '../notifications';
import type { AuditEvent, ExecutionInput, JobDefinition } from '../../../contracts';
import type { JobRegistry } from '../../jobs/types';
import type { ApprovalStore } from '../approvals';
import type { Clock } from '../clock';
import { ConfigurationError } from '../errors';
import { deriveJobRunId, evidencePrefix, tickOf } from '../ids';
import { findJob, type ResolvedPolicy } from '../policy';
import type { EvidenceStore, RunItem, RunMetrics, StateStore } from '../ports';
import type { Redactor } from '../redaction';
import { runWindow } from '../window';

export interface RunDependencies {
  policy: ResolvedPolicy;
  state: StateStore;
  evidence: EvidenceStore;
  clock: Clock;
  jobs: JobRegistry;
  codeVersion: string;
  redactor: Redactor;
  /** Where a job's own log lines go (already redacted on the way). */
  log: JobLog;
  metrics: RunMetrics;
  approvals: ApprovalStore;
  /**
   * Locally, whether the process holding a claim (named by its execution id) still runs: false lets
   * a run be taken over at once instead of after its lease. Absent or null: the lease decides.
   */
  isHolderAlive?: (executionId: string) => boolean | null;
  /** The job's secret reader (Secrets Manager in AWS, the local secrets file locally). */
  secrets?: SecretReader;
  /** What webhook deliveries reach; fetch, real sleeps and Math.random unless given. */
  webhooks?: Omit<WebhookPorts, 'clock'>;
  /** The stage's notification chain; the log only unless given. */
  notify?: Notify;
}

export type JobLog = (message: string, details?: Record<string, unknown>) => void;

/**
 * Which run a scheduled time belongs to: its tick, window, id (job + window start) and evidence
 * prefix.
 */
export function runIdentity(policy: ResolvedPolicy, job: JobDefinition, scheduledTime: string) {
  const tick = tickOf(new Date(scheduledTime));
  const window = runWindow(job, tick);
  const windowStart = new Date(window.start);
  return {
    tick,
    window,
    jobRunId: deriveJobRunId(job.jobId, windowStart),
    evidencePrefix: evidencePrefix(policy.stage, job.jobId, windowStart),
  };
}

/** The run id and evidence prefix an execution input maps to, without claiming anything. */
export function deriveRunIdentity(
  policy: ResolvedPolicy,
  request: ExecutionInput,
): { jobRunId: string; evidencePrefix: string } {
  const { jobRunId, evidencePrefix } = runIdentity(
    policy,
    requireJob(policy, request.jobId),
    request.scheduledTime,
  );
  return { jobRunId, evidencePrefix };
}

/**
 * One setting: the claim's lease, and with it Execute's in-progress record (docs/crash-safety.md).
 */
export const leaseFrom = (policy: ResolvedPolicy, now: Date): string =>
  new Date(now.getTime() + policy.settings.thresholds.runLeaseSeconds * 1000).toISOString();

export const actorOf = (trigger: string): AuditEvent['actor'] => ({
  kind: trigger === 'schedule' ? 'scheduler' : 'operator',
  id: trigger,
});

export function requireJob(policy: ResolvedPolicy, jobId: string): JobDefinition {
  const job = findJob(policy, jobId);
  if (!job)
    throw new ConfigurationError(`job '${jobId}' is not in the catalog of stage '${policy.stage}'`);
  return job;
}

export async function getClaimedRun(state: StateStore, jobRunId: string): Promise<RunItem> {
  const item = await state.getRun(jobRunId);
  if (!item) throw new ConfigurationError(`run ${jobRunId} was never claimed`);
  return item;
}
