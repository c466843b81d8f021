import type { JobDefinition } from '../contracts';
import type { Clock } from '../functions/core/clock';
import { isoSeconds } from '../functions/core/ids';
import type { ResolvedPolicy } from '../functions/core/policy';
import type { StateStore } from '../functions/core/ports';
import { scheduledTimes } from '../functions/core/schedule';
import type { ExecutionOutcome, LocalRuntime } from './runtime';

export interface Dispatch {
  jobId: string;
  scheduledTime: string;
}

export interface SchedulerEvents {
  onDispatch?(dispatch: Dispatch): void;
  onOutcome?(dispatch: Dispatch, outcome: ExecutionOutcome): void;
  onMissed?(jobId: string, from: string, to: string): void;
  onSkipped?(jobId: string, tick: string, why: string): void;
  onError?(error: unknown): void;
}

const MAX_TICKS_PER_JOB_PER_PASS = 100;

/**
 * The local stand-in for EventBridge Scheduler. Each job's last dispatched tick is kept in the state
 * table, so a restart neither repeats a tick (and if it did, the run claim would suppress it) nor, past
 * the policy's catch-up window, floods the stack with ticks it missed while it was down.
 */
export class LocalScheduler {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly runtime: Pick<LocalRuntime, 'run'>,
    private readonly policy: ResolvedPolicy,
    private readonly state: StateStore,
    private readonly clock: Clock,
    private readonly events: SchedulerEvents = {},
  ) {}

  enabledJobs(): JobDefinition[] {
    return this.policy.jobs.filter((job) => job.enabled);
  }

  private dispatch(dispatch: Dispatch, trigger: 'schedule' | 'manual'): void {
    this.events.onDispatch?.(dispatch);
    const execution = this.runtime
      .run({ ...dispatch, trigger })
      .then((outcome) => this.events.onOutcome?.(dispatch, outcome))
      .catch((error: unknown) => this.events.onError?.(error));
    const tracked = execution.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /**
   * Seed 003, restartable: a run left claimed by a stopped (or killed) process is delivered again once
   * its lease has expired; Preflight takes it over, and Powertools idempotency keeps the job's effect single.
   */
  async resumeOpenRuns(): Promise<Dispatch[]> {
    const now = this.clock.now().getTime();
    const resumed: Dispatch[] = [];
    for (const open of await this.state.listOpenRuns()) {
      if (Date.parse(open.leaseExpiresAt) >= now || !this.policy.jobs.some((j) => j.jobId === open.jobId)) continue;
      const dispatch = { jobId: open.jobId, scheduledTime: open.scheduledTime };
      this.dispatch(dispatch, open.trigger === 'manual' ? 'manual' : 'schedule');
      resumed.push(dispatch);
    }
    return resumed;
  }

  /** Dispatches every tick that is due (and resumes abandoned runs); returns what it dispatched. */
  async tick(): Promise<Dispatch[]> {
    const now = this.clock.now();
    const catchUpFloor = new Date(now.getTime() - this.policy.settings.scheduler.catchUpMinutes * 60_000);
    const dispatched: Dispatch[] = [...(await this.resumeOpenRuns())];
    const controls = await this.state.getControls();
    for (const job of this.enabledJobs()) {
      const cursor = await this.state.getSchedulerCursor(job.jobId);
      if (!cursor) {
        // First start: begin from now, as a new EventBridge schedule would.
        await this.state.setSchedulerCursor(job.jobId, isoSeconds(now));
        continue;
      }
      let from = new Date(cursor);
      if (from < catchUpFloor) {
        this.events.onMissed?.(job.jobId, cursor, isoSeconds(catchUpFloor));
        from = catchUpFloor;
      }
      // An engaged kill-switch disables the job's schedule, as it does in EventBridge Scheduler.
      const killed = controls.globalKillSwitch?.engaged || controls.jobKillSwitches[job.jobId]?.engaged;
      for (const at of scheduledTimes(job.schedule, from, now, MAX_TICKS_PER_JOB_PER_PASS)) {
        const dispatch = { jobId: job.jobId, scheduledTime: isoSeconds(at) };
        if (killed) this.events.onSkipped?.(job.jobId, dispatch.scheduledTime, 'kill-switch engaged: schedule disabled');
        else this.dispatch(dispatch, 'schedule');
        // The cursor moves after the dispatch: at-least-once, like EventBridge; the claim makes it once.
        await this.state.setSchedulerCursor(job.jobId, dispatch.scheduledTime);
        if (!killed) dispatched.push(dispatch);
      }
    }
    return dispatched;
  }

  async drain(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  /** Ticks every `intervalMs` until `signal` aborts, then waits for runs in flight. */
  async loop(signal: AbortSignal, intervalMs = 5_000): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.tick();
      } catch (error) {
        this.events.onError?.(error);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
    await this.drain();
  }
}
