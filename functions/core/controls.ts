import {
  Identity,
  SafetyMode,
  type AuditEvent,
  type AuditEventType,
  type JobDefinition,
  type KillSwitch,
  type SafetyState,
} from '../../contracts';
import { auditEvent } from './audit';
import type { Clock } from './clock';
import { DangerousOpRequiresApprovalError, ThrottlingError, ValidationError } from './errors';
import { sha256Hex } from './hashing';
import { controlEventsPrefix, isoSeconds } from './ids';
import { findJob, type ResolvedPolicy } from './policy';
import type {
  Controls,
  EvidenceStore,
  JobState,
  OpenRun,
  SchedulePause,
  StateStore,
} from './ports';
import { nextRunTimes } from './schedule';
import { type Heartbeat, heartbeatOf } from './freshness';
import {
  LATENCY_MONITOR_JOB_ID,
  type MonitorHeartbeats,
  monitorHeartbeats,
} from './latency-heartbeat';
import type { Redactor } from './redaction';

/** Stops running executions: StopExecution in AWS, an abort of the interpreter locally. */
export interface ExecutionController {
  stopRunning(jobId: string | null, reason: string): Promise<string[]>;
}

/**
 * Disables schedules: EventBridge Scheduler in AWS; locally the scheduler loop skips killed jobs by
 * itself.
 */
export interface ScheduleController {
  disable(jobId: string | null): Promise<string[]>;
}

export interface ControlDependencies {
  policy: ResolvedPolicy;
  state: StateStore;
  evidence: EvidenceStore;
  clock: Clock;
  redactor: Redactor;
}

export interface Actor {
  by: string;
  reason: string;
}

/** The actor, named as docs/approvals.md ("Identities") says, with a reason. */
export function requireActor(actor: Actor): Actor {
  const issues = [];
  const by = Identity.safeParse(actor.by);
  if (!actor.by.trim()) issues.push({ path: 'by', message: 'who is acting must be named (--as)' });
  else if (!by.success)
    issues.push({
      path: 'by',
      message: `--as ${by.error.issues[0]?.message ?? 'is not a valid identity'}`,
    });
  if (!actor.reason.trim())
    issues.push({ path: 'reason', message: 'a reason is required (--reason)' });
  if (issues.length || !by.success) throw new ValidationError('control request', issues);
  return { by: by.data, reason: actor.reason };
}

export function requireKnownJob(
  policy: ResolvedPolicy,
  jobId: string | null,
): JobDefinition | null {
  if (jobId === null) return null;
  const job = findJob(policy, jobId);
  if (!job)
    throw new ValidationError('control request', [
      { path: 'jobId', message: `'${jobId}' is not in the catalog of stage '${policy.stage}'` },
    ]);
  return job;
}

const MAX_CONTROL_CHAIN_ATTEMPTS = 10;
const encoder = new TextEncoder();

/**
 * Operator actions are evidence too: one write-once object per event, beside the runs of that day,
 * hash-chained like run manifests (docs/evidence.md): each event carries its sequence number and
 * the key and SHA-256 of the event before it, and the state table keeps the head. The head moves
 * first (conditionally, so concurrent events get their own numbers), then the object is written; an
 * event linked but never written (the writer died) is written by the next one from the bytes the
 * head keeps.
 */
export async function recordControlEvent(
  deps: ControlDependencies,
  type: AuditEventType,
  actor: Actor,
  details: Record<string, unknown>,
  jobId?: string,
): Promise<AuditEvent> {
  const at = deps.clock.now();
  const event = auditEvent({
    eventId: `control#${type}#${isoSeconds(at)}#${sha256Hex(JSON.stringify(details)).slice(0, 12)}`,
    type,
    at,
    stage: deps.policy.stage,
    ...(jobId ? { jobId } : {}),
    actor: { kind: 'operator' as const, id: deps.redactor.id(actor.by) },
    details: deps.redactor.value({ ...details, reason: actor.reason }),
  });
  for (let attempt = 0; attempt < MAX_CONTROL_CHAIN_ATTEMPTS; attempt++) {
    const head = await deps.state.getControlChainHead();
    if (head)
      await deps.evidence.putObject(head.key, encoder.encode(head.body), 'application/json');
    const sequence = (head?.sequence ?? 0) + 1;
    const previous = head ? { key: head.key, sha256: head.sha256, sequence: head.sequence } : null;
    const chained = auditEvent({ ...event, chain: { sequence, previous } });
    const body = `${JSON.stringify(chained)}\n`;
    const key = `${controlEventsPrefix(deps.policy.stage, new Date(chained.at))}${isoSeconds(at).replace(/[-:]/g, '')}-${type}-${String(sequence).padStart(6, '0')}.json`;
    if (
      !(await deps.state.linkControlChain(head?.sequence ?? 0, {
        sequence,
        key,
        sha256: sha256Hex(body),
        body,
      }))
    )
      continue;
    await deps.evidence.putObject(key, encoder.encode(body), 'application/json');
    return chained;
  }
  throw new ThrottlingError(
    `control event ${type}: other control events kept moving the chain head; try again`,
  );
}

export interface KillSwitchResult {
  killSwitch: KillSwitch;
  stoppedExecutions: string[];
  disabledSchedules: string[];
}

/**
 * Engaging is immediate (docs/safety-rules.md#kill-switch): the switch is written first, so every
 * Preflight from then on refuses; then running executions are stopped and schedules disabled.
 */
export async function engageKillSwitch(
  deps: ControlDependencies & { executions: ExecutionController; schedules: ScheduleController },
  jobId: string | null,
  asked: Actor,
): Promise<KillSwitchResult> {
  const actor = requireActor(asked);
  requireKnownJob(deps.policy, jobId);
  const killSwitch: KillSwitch = {
    schemaVersion: 1,
    jobId,
    engaged: true,
    reason: deps.redactor.text(actor.reason),
    changedBy: deps.redactor.id(actor.by),
    changedAt: deps.clock.now().toISOString(),
  };
  await deps.state.setKillSwitch(killSwitch);
  const stoppedExecutions = await deps.executions.stopRunning(
    jobId,
    `kill-switch engaged by ${killSwitch.changedBy}: ${killSwitch.reason}`,
  );
  const disabledSchedules = await deps.schedules.disable(jobId);
  await recordControlEvent(
    deps,
    'kill_switch.engage',
    actor,
    { scope: jobId ?? 'global', stoppedExecutions, disabledSchedules },
    jobId ?? undefined,
  );
  return { killSwitch, stoppedExecutions, disabledSchedules };
}

export async function releaseKillSwitch(
  _deps: ControlDependencies,
  jobId: string | null,
  actor: Actor,
): Promise<never> {
  requireActor(actor);
  throw new DangerousOpRequiresApprovalError(
    `releasing the ${jobId ? `kill-switch of ${jobId}` : 'global kill-switch'}`,
  );
}

const SAFETY_RANK: Record<SafetyMode, number> = { NORMAL: 0, SAFE: 1, EMERGENCY_STOP: 2 };

/** Moving toward EMERGENCY_STOP takes effect at once; moving toward NORMAL is a dangerous op. */
export async function setSafetyMode(
  deps: ControlDependencies,
  mode: string,
  asked: Actor,
): Promise<SafetyState> {
  const parsed = SafetyMode.safeParse(mode);
  if (!parsed.success)
    throw new ValidationError('control request', [
      { path: 'mode', message: `must be one of ${SafetyMode.options.join(', ')}` },
    ]);
  const actor = requireActor(asked);
  const current = (await deps.state.getControls()).safety;
  const from = current?.mode ?? 'NORMAL';
  if (SAFETY_RANK[parsed.data] < SAFETY_RANK[from])
    throw new DangerousOpRequiresApprovalError(
      `relaxing the safety mode from ${from} to ${parsed.data}`,
    );
  if (current && parsed.data === from) return current;
  const state: SafetyState = {
    schemaVersion: 1,
    mode: parsed.data,
    reason: deps.redactor.text(actor.reason),
    changedBy: deps.redactor.id(actor.by),
    changedAt: deps.clock.now().toISOString(),
  };
  await deps.state.setSafetyState(state);
  await recordControlEvent(deps, 'safety.mode.change', actor, { from, to: parsed.data });
  return state;
}

export async function releaseQuarantine(
  _deps: ControlDependencies,
  jobId: string,
  actor: Actor,
): Promise<never> {
  requireActor(actor);
  throw new DangerousOpRequiresApprovalError(`releasing the quarantine of ${jobId}`);
}

export interface StatusReport {
  stage: string;
  safety: {
    mode: SafetyMode;
    changedBy: string | null;
    changedAt: string | null;
    reason: string | null;
  };
  killSwitches: KillSwitch[];
  quarantined: { jobId: string; since: string; reason: string }[];
  datasets: Controls['datasets'];
  jobs: {
    jobId: string;
    enabled: boolean;
    lastRunAt: string | null;
    lastStatus: string | null;
    lastQuality: string | null;
    lastSuccessAt: string | null;
    consecutiveFailures: number;
    runCount: number;
    quarantined: boolean;
    killed: boolean;
    /** The operator's pause of the job's schedule (opsrail pause), if any. */
    paused: SchedulePause | null;
    /** null when the job is disabled or paused: no tick of it starts a run. */
    nextRun: string | null;
    /** Last success and failure, whether the job is stale, what would alert (freshness.ts). */
    heartbeat: Heartbeat;
    /**
     * For the latency monitor: each endpoint's heartbeat (last success, last breach, pending
     * alerts) from the latest run's state (docs/latency-slo.md#the-heartbeat); null for other jobs.
     */
    monitors: MonitorHeartbeats | null;
  }[];
  openRuns: OpenRun[];
}

export async function statusReport(deps: ControlDependencies): Promise<StatusReport> {
  const [controls, openRuns, states] = await Promise.all([
    deps.state.getControls(),
    deps.state.listOpenRuns(),
    Promise.all(
      deps.policy.jobs.map(
        async (job) =>
          [job.jobId, await deps.state.getJobState(job.jobId)] as [string, JobState | undefined],
      ),
    ),
  ]);
  const stateOf = new Map(states);
  const monitorsOf = new Map(
    await Promise.all(
      deps.policy.jobs
        .filter((job) => job.jobId === LATENCY_MONITOR_JOB_ID)
        .map(
          async (job) =>
            [
              job.jobId,
              await monitorHeartbeats(
                deps.evidence,
                deps.policy.stage,
                job,
                stateOf.get(job.jobId)?.chainHead,
              ),
            ] as const,
        ),
    ),
  );
  const killSwitches = [
    controls.globalKillSwitch,
    ...Object.values(controls.jobKillSwitches),
  ].filter((k): k is KillSwitch => !!k?.engaged);
  const now = deps.clock.now();
  return {
    stage: deps.policy.stage,
    safety: {
      mode: controls.safety?.mode ?? 'NORMAL',
      changedBy: controls.safety?.changedBy ?? null,
      changedAt: controls.safety?.changedAt ?? null,
      reason: controls.safety?.reason ?? null,
    },
    killSwitches,
    quarantined: deps.policy.jobs.flatMap((job) => {
      const q = stateOf.get(job.jobId)?.quarantine;
      return q ? [{ jobId: job.jobId, since: q.since, reason: q.reason }] : [];
    }),
    datasets: controls.datasets,
    jobs: deps.policy.jobs.map((job) => {
      const s = stateOf.get(job.jobId);
      const heartbeat = heartbeatOf(
        job,
        s,
        deps.policy.settings.thresholds.deadManGraceMinutes,
        now,
      );
      const monitors = monitorsOf.get(job.jobId) ?? null;
      for (const m of monitors?.endpoints ?? [])
        if (m.pendingAlerts > 0)
          heartbeat.pendingAlerts.push(
            `${m.endpoint}: ${m.pendingAlerts} latency alert(s) not delivered yet (the next run retries)`,
          );
      return {
        jobId: job.jobId,
        enabled: job.enabled,
        lastRunAt: s?.lastRunAt ?? null,
        lastStatus: s?.lastStatus ?? null,
        lastQuality: s?.lastQuality ?? null,
        lastSuccessAt: s?.lastSuccessAt ?? null,
        consecutiveFailures: s?.consecutiveFailures ?? 0,
        runCount: s?.runCount ?? 0,
        quarantined: !!s?.quarantine,
        killed:
          !!controls.globalKillSwitch?.engaged || !!controls.jobKillSwitches[job.jobId]?.engaged,
        paused: controls.pausedJobs[job.jobId] ?? null,
        nextRun:
          job.enabled && !controls.pausedJobs[job.jobId]
            ? (nextRunTimes(job.schedule, now, 1)[0]?.toISOString() ?? null)
            : null,
        heartbeat,
        monitors,
      };
    }),
    openRuns,
  };
}
