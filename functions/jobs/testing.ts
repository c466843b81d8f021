import { type JobDefinition, type RunContext, stageResourceNames } from '../../contracts';
import { NotFoundError } from '../core/errors';
import type { ResolvedPolicy } from '../core/policy';
import type { JobContext } from './types';
import { logOnlyNotify } from '../core/notifications';

/**
 * A context to call a job's `run` or `plan` with in the job's own unit test (what `opsrail new-job`
 * writes): the given params and window, a fixed clock, a log that collects lines, and no state or
 * evidence (reading them fails with NotFoundError: a job that needs them is tested on the local
 * stack).
 */
export function jobTestContext(options: {
  jobId: string;
  params?: Record<string, unknown>;
  window?: { start: string; end: string };
}): JobContext & { logged: string[] } {
  const window = options.window ?? { start: '2026-01-01T00:00:00Z', end: '2026-01-01T01:00:00Z' };
  const jobRunId = `${options.jobId}/${window.start}`;
  const unavailable = (what: string) => () =>
    Promise.reject(
      new NotFoundError(
        `${what} is not available in a unit test: run the job on the local stack (opsrail run)`,
      ),
    );
  const job = {
    jobId: options.jobId,
    jobVersion: '0.1.0',
    params: options.params ?? {},
    environment: 'dev',
    enabled: false,
    mode: 'live',
  } as unknown as JobDefinition;
  const run = {
    stage: 'local',
    jobId: options.jobId,
    jobVersion: '0.1.0',
    jobRunId,
    scheduledTime: window.start,
    trigger: 'manual',
    executionId: 'test',
    window,
    evidencePrefix: 'test/',
    policySnapshot: { stage: 'local', sha256: '0'.repeat(64) },
    jobConfigSha256: '0'.repeat(64),
    datasetRefs: [],
    outputDatasetId: `opsrail.outputs.${options.jobId}`,
    requestedBy: 'test',
    params: {},
    approvalRequired: false,
    jobFunction: stageResourceNames('local').jobFunction(options.jobId),
    claimedAt: window.start,
  } as unknown as RunContext;
  const logged: string[] = [];
  const log = (message: string) => void logged.push(message);
  const missing = new Proxy({}, { get: (_t, name) => unavailable(`state.${String(name)}`) });
  return {
    job,
    run,
    policy: {
      stage: 'local',
      settings: { redaction: { placeholder: '[REDACTED]', patterns: [] } },
      jobs: [job],
      snapshot: run.policySnapshot,
    } as unknown as ResolvedPolicy,
    clock: { now: () => new Date(window.end) },
    state: missing as JobContext['state'],
    evidence: missing as JobContext['evidence'],
    secrets: { read: unavailable('secrets.read') },
    webhooks: missing as JobContext['webhooks'],
    control: missing as JobContext['control'],
    notify: logOnlyNotify(log, () => new Date(window.end)),
    log,
    logged,
  };
}
