import type {
  AuditEvent,
  DatasetIntegrity,
  KillSwitch,
  RunContext,
  RunSummary,
  SafetyState,
} from '../../contracts';
import { ConfigurationError } from '../core/errors';
import type {
  ActiveRun,
  ChainLink,
  ClaimOutcome,
  ControlChainHead,
  Controls,
  ExportSequence,
  FailureCount,
  JobState,
  OpenRun,
  Quarantine,
  RunEffect,
  RunItem,
  RunQuery,
  SchedulePause,
  SealedOutcome,
  StateStore,
  WaitingTick,
} from '../core/ports';
import { byteLess, byteOrder, conditionFailed, stored } from './memory-kit';

type JobStateItem = Partial<JobState>;

/**
 * The state table in memory, for rule-level tests: every method mirrors one of DynamoDbStateStore's
 * writes, condition for condition (docs/testing.md; test/integration/state-store.test.ts runs one
 * contract over both). Each call is atomic (no await inside), which is what DynamoDB's conditional
 * writes and transactions give the adapter; values go in and come out as copies.
 */
export class MemoryStateStore implements StateStore {
  private readonly runs = new Map<string, RunItem>();
  private readonly duplicates = new Map<string, Map<string, AuditEvent>>();
  private readonly open = new Map<string, Partial<OpenRun>>();
  private readonly jobs = new Map<string, JobStateItem>();
  /** The control partition by sort key (SAFETY, KILL#GLOBAL, KILL#JOB#…, DATASET#…). */
  private readonly controls = new Map<string, Record<string, unknown>>();
  private controlChainHead: ControlChainHead | undefined;
  private readonly cursors = new Map<string, string>();
  /** Each job's overlap slot (as the adapter's JOB#<jobId>/SLOT item). */
  private readonly slots = new Map<string, { active?: ActiveRun; waiting?: WaitingTick }>();
  /** Export counters (the last sequence given) and holders, by dataset. */
  private readonly exportCounters = new Map<string, number>();
  private readonly exportHolders = new Map<string, ExportSequence>();

  /** An update of a claimed run's item (which must exist), as DynamoDbStateStore.updateRun. */
  private claimed(operation: string, jobRunId: string): RunItem {
    const run = this.runs.get(jobRunId);
    if (!run) throw new ConfigurationError(`run ${jobRunId} was never claimed (${operation})`);
    return run;
  }

  private job(jobId: string): JobStateItem {
    let state = this.jobs.get(jobId);
    if (!state) {
      state = {};
      this.jobs.set(jobId, state);
    }
    return state;
  }

  async claimRun(
    run: RunContext,
    startEvent: AuditEvent,
    leaseExpiresAt: string,
    exclusive = false,
  ): Promise<ClaimOutcome> {
    if (this.runs.has(run.jobRunId)) return false;
    if (exclusive) {
      const slot = this.slots.get(run.jobId) ?? {};
      if (slot.active) return { busy: stored(slot.active) };
      this.slots.set(run.jobId, {
        ...slot,
        active: {
          jobRunId: run.jobRunId,
          scheduledTime: run.scheduledTime,
          executionId: run.executionId,
        },
      });
    }
    this.runs.set(
      run.jobRunId,
      stored<RunItem>({
        ...run,
        phase: 'claimed',
        audit: [startEvent],
        attempts: 0,
        leaseExpiresAt,
        ...(exclusive ? { exclusive: true } : {}),
      }),
    );
    this.open.set(
      run.jobRunId,
      stored<OpenRun>({
        jobRunId: run.jobRunId,
        jobId: run.jobId,
        scheduledTime: run.scheduledTime,
        trigger: run.trigger,
        executionId: run.executionId,
        leaseExpiresAt,
      }),
    );
    return true;
  }

  async waitForSlot(
    jobId: string,
    tick: WaitingTick,
    now: string,
  ): Promise<'waiting' | WaitingTick> {
    const slot = this.slots.get(jobId) ?? {};
    const waiting = slot.waiting;
    if (
      waiting &&
      waiting.executionId !== tick.executionId &&
      !byteLess(waiting.leaseExpiresAt, now)
    )
      return stored(waiting);
    this.slots.set(jobId, { ...slot, waiting: stored(tick) });
    return 'waiting';
  }

  async leaveWaiting(jobId: string, executionId: string): Promise<void> {
    const slot = this.slots.get(jobId);
    if (slot?.waiting?.executionId === executionId) delete slot.waiting;
  }

  async getSlot(jobId: string): Promise<{ active?: ActiveRun; waiting?: WaitingTick }> {
    return stored(this.slots.get(jobId) ?? {});
  }

  async takeOverRun(
    jobRunId: string,
    from: { executionId: string; leaseExpiresAt: string },
    to: { executionId: string; leaseExpiresAt: string; event: AuditEvent },
  ): Promise<boolean> {
    const run = this.runs.get(jobRunId);
    if (
      !run ||
      run.executionId !== from.executionId ||
      run.leaseExpiresAt !== from.leaseExpiresAt ||
      run.phase !== 'claimed'
    )
      return false;
    run.executionId = to.executionId;
    run.leaseExpiresAt = to.leaseExpiresAt;
    run.audit.push(stored(to.event));
    // The open row is updated without a condition: an update that creates it when it is missing.
    this.open.set(jobRunId, {
      ...this.open.get(jobRunId),
      executionId: to.executionId,
      leaseExpiresAt: to.leaseExpiresAt,
    });
    return true;
  }

  async listOpenRuns(): Promise<OpenRun[]> {
    return [...this.open.entries()]
      .sort(([a], [b]) => byteOrder(a, b))
      .map(([, row]) => stored(row as OpenRun));
  }

  async appendAudit(jobRunId: string, events: AuditEvent[]): Promise<void> {
    this.claimed('appendAudit', jobRunId).audit.push(...stored(events));
  }

  async recordAttemptFailure(jobRunId: string, reason: string): Promise<void> {
    const run = this.claimed('recordAttemptFailure', jobRunId);
    run.lastAttemptError = reason.slice(0, 1000);
    run.failedAttempts = (run.failedAttempts ?? 0) + 1;
  }

  async getRun(jobRunId: string): Promise<RunItem | undefined> {
    const run = this.runs.get(jobRunId);
    return run ? stored(run) : undefined;
  }

  async recordDuplicate(
    event: AuditEvent & { jobRunId: string },
    executionId: string,
  ): Promise<void> {
    let byExecution = this.duplicates.get(event.jobRunId);
    if (!byExecution) {
      byExecution = new Map();
      this.duplicates.set(event.jobRunId, byExecution);
    }
    byExecution.set(executionId, stored(event));
  }

  async listDuplicates(jobRunId: string): Promise<AuditEvent[]> {
    const byExecution = this.duplicates.get(jobRunId) ?? new Map<string, AuditEvent>();
    return [...byExecution.entries()]
      .sort(([a], [b]) => byteOrder(a, b))
      .map(([, event]) => stored(event));
  }

  async countExecuteAttempt(
    jobRunId: string,
  ): Promise<{ attempts: number; lastAttemptError?: string }> {
    const run = this.claimed('countExecuteAttempt', jobRunId);
    run.attempts = (run.attempts ?? 0) + 1;
    return {
      attempts: run.attempts,
      ...(run.lastAttemptError ? { lastAttemptError: run.lastAttemptError } : {}),
    };
  }

  async sealOutcome(jobRunId: string, outcome: SealedOutcome): Promise<SealedOutcome> {
    const run = this.runs.get(jobRunId);
    // The adapter's conditional update fails and, finding no outcome to return, reports the failed
    // condition.
    if (!run) throw conditionFailed(`sealOutcome (run ${jobRunId} not claimed)`);
    if (run.sealed) return stored(run.sealed);
    run.sealed = stored(outcome);
    return stored(outcome);
  }

  async linkChain(
    jobId: string,
    jobRunId: string,
    expectedSequence: number,
    link: ChainLink,
  ): Promise<'linked' | 'conflict' | 'already'> {
    const state = this.jobs.get(jobId);
    const run = this.runs.get(jobRunId);
    // Both conditions of the transaction are checked, as DynamoDB reports each item's.
    const headMoved =
      expectedSequence === 0
        ? state?.chainHead !== undefined
        : state?.chainHead?.sequence !== expectedSequence;
    const runLinked = !run || run.chain !== undefined;
    if (runLinked) return 'already';
    if (headMoved) return 'conflict';
    // The head is the link as the next run sees it; what the bundle is built from stays on the run.
    const { basis: _basis, ...head } = link;
    Object.assign(this.job(jobId), { chainHead: stored(head), jobId });
    run.chain = stored(link);
    return 'linked';
  }

  async countFailure(
    jobId: string,
    jobRunId: string,
    threshold: number,
    at: string,
  ): Promise<FailureCount | 'moved'> {
    const run = this.runs.get(jobRunId);
    // The adapter's transaction needs the run item: without one every pass fails and it gives up.
    if (!run) return 'moved';
    if (run.failure) return stored(run.failure);
    const state = this.jobs.get(jobId);
    const failures = (state?.consecutiveFailures ?? 0) + 1;
    const quarantine =
      !state?.quarantine && failures >= threshold
        ? {
            since: at,
            jobRunId,
            reason: `${failures} consecutive failures (threshold ${threshold})`,
          }
        : null;
    const count: FailureCount = { consecutiveFailures: failures, quarantine };
    Object.assign(this.job(jobId), {
      jobId,
      consecutiveFailures: failures,
      ...(quarantine ? { quarantine: stored(quarantine) } : {}),
    });
    run.failure = stored(count);
    return stored(count);
  }

  async completeRun(
    summary: RunSummary,
    endedAt: string,
    effect: RunEffect,
    releaseSlot = false,
  ): Promise<boolean> {
    const run = this.runs.get(summary.jobRunId);
    if (!run || run.summary !== undefined) return false;
    // The adapter removes `active` only while this run holds it (a condition on the slot item).
    const slot = this.slots.get(summary.jobId);
    if (releaseSlot && slot?.active?.jobRunId === summary.jobRunId) delete slot.active;
    run.summary = stored(summary);
    run.phase = 'finalized';
    const state = this.job(summary.jobId);
    Object.assign(state, {
      jobId: summary.jobId,
      lastRunAt: endedAt,
      lastStatus: summary.status,
      lastQuality: summary.quality,
      runCount: (state.runCount ?? 0) + 1,
    });
    // A failure was counted, and any quarantine entered, by countFailure before the outcome was
    // sealed.
    if (effect.kind === 'success')
      Object.assign(state, { consecutiveFailures: 0, lastSuccessAt: endedAt });
    if (effect.kind === 'failure')
      Object.assign(state, {
        lastFailureAt: endedAt,
        lastFailureKind: summary.error?.kind ?? 'internal',
      });
    this.open.delete(summary.jobRunId);
    return true;
  }

  async releaseQuarantine(jobId: string): Promise<Quarantine | null> {
    const state = this.job(jobId);
    const quarantine = state.quarantine ?? null;
    delete state.quarantine;
    state.consecutiveFailures = 0;
    return quarantine ? stored(quarantine) : null;
  }

  async listRunsBefore(
    cutoff: string,
  ): Promise<{ jobRunId: string; jobId: string; scheduledTime: string }[]> {
    return [...this.runs.values()]
      .filter((run) => run.phase === 'finalized' && byteLess(run.scheduledTime, cutoff))
      .map(({ jobRunId, jobId, scheduledTime }) => ({ jobRunId, jobId, scheduledTime }))
      .sort((a, b) => (a.jobRunId < b.jobRunId ? -1 : 1));
  }

  /**
   * The run's partition (the run and its duplicate records); like the adapter, its open row is not
   * in it.
   */
  async deleteRun(jobRunId: string): Promise<void> {
    this.runs.delete(jobRunId);
    this.duplicates.delete(jobRunId);
  }

  async getControls(): Promise<Controls> {
    const controls: Controls = {
      safety: null,
      globalKillSwitch: null,
      jobKillSwitches: {},
      datasets: {},
      pausedJobs: {},
    };
    for (const [sk, item] of [...this.controls.entries()].sort(([a], [b]) => byteOrder(a, b))) {
      const value = stored(item);
      if (sk === 'SAFETY') controls.safety = value as unknown as SafetyState;
      else if (sk === 'KILL#GLOBAL') controls.globalKillSwitch = value as unknown as KillSwitch;
      else if (sk.startsWith('KILL#JOB#'))
        controls.jobKillSwitches[sk.slice('KILL#JOB#'.length)] = value as unknown as KillSwitch;
      else if (sk.startsWith('DATASET#'))
        controls.datasets[sk.slice('DATASET#'.length)] = value as unknown as DatasetIntegrity;
      else if (sk.startsWith('PAUSE#JOB#'))
        controls.pausedJobs[sk.slice('PAUSE#JOB#'.length)] = value as unknown as SchedulePause;
    }
    return controls;
  }

  async setSchedulePause(jobId: string, pause: SchedulePause | null): Promise<void> {
    if (pause) this.controls.set(`PAUSE#JOB#${jobId}`, stored({ ...pause }));
    else this.controls.delete(`PAUSE#JOB#${jobId}`);
  }

  async listRuns(query: RunQuery): Promise<RunItem[]> {
    return [...this.runs.values()]
      .filter(
        (run) =>
          (query.jobId === undefined || run.jobId === query.jobId) &&
          (query.since === undefined || !byteLess(run.scheduledTime, query.since)),
      )
      .sort((a, b) => byteOrder(a.jobRunId, b.jobRunId))
      .map((run) => stored(run));
  }

  async setSafetyState(state: SafetyState): Promise<void> {
    this.controls.set('SAFETY', stored({ ...state }));
  }

  async setKillSwitch(killSwitch: KillSwitch): Promise<void> {
    this.controls.set(
      killSwitch.jobId ? `KILL#JOB#${killSwitch.jobId}` : 'KILL#GLOBAL',
      stored({ ...killSwitch }),
    );
  }

  async setDatasetIntegrity(integrity: DatasetIntegrity): Promise<void> {
    this.controls.set(`DATASET#${integrity.datasetId}`, stored({ ...integrity }));
  }

  async getControlChainHead(): Promise<ControlChainHead | undefined> {
    return this.controlChainHead ? stored(this.controlChainHead) : undefined;
  }

  async linkControlChain(expectedSequence: number, head: ControlChainHead): Promise<boolean> {
    const current = this.controlChainHead;
    if (expectedSequence === 0 ? current !== undefined : current?.sequence !== expectedSequence)
      return false;
    this.controlChainHead = stored(head);
    return true;
  }

  async getJobState(jobId: string): Promise<JobState | undefined> {
    const state = this.jobs.get(jobId);
    return state ? { consecutiveFailures: 0, runCount: 0, ...stored(state), jobId } : undefined;
  }

  async getSchedulerCursor(jobId: string): Promise<string | undefined> {
    return this.cursors.get(jobId);
  }

  async setSchedulerCursor(jobId: string, tick: string): Promise<void> {
    // The cursor only moves forward, whoever writes it.
    const current = this.cursors.get(jobId);
    if (current === undefined || byteLess(current, tick)) this.cursors.set(jobId, tick);
  }

  async allocateExportSequence(
    dataset: string,
    holder: string,
    at: string,
  ): Promise<ExportSequence> {
    const key = `${dataset}\u0000${holder}`;
    const held = this.exportHolders.get(key);
    if (held) return stored(held);
    const sequence = (this.exportCounters.get(dataset) ?? 0) + 1;
    this.exportCounters.set(dataset, sequence);
    this.exportHolders.set(key, { sequence, allocatedAt: at });
    return { sequence, allocatedAt: at };
  }

  async getExportSequence(dataset: string): Promise<number> {
    return this.exportCounters.get(dataset) ?? 0;
  }
}
