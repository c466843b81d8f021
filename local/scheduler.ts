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

  /** Dispatches every tick that is due; returns what it dispatched. */
  async tick(): Promise<Dispatch[]> {
    const now = this.clock.now();
    const catchUpFloor = new Date(now.getTime() - this.policy.settings.scheduler.catchUpMinutes * 60_000);
    const dispatched: Dispatch[] = [];
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
      for (const at of scheduledTimes(job.schedule, from, now, MAX_TICKS_PER_JOB_PER_PASS)) {
        const dispatch = { jobId: job.jobId, scheduledTime: isoSeconds(at) };
        this.events.onDispatch?.(dispatch);
        const execution = this.runtime
          .run({ ...dispatch, trigger: 'schedule' })
          .then((outcome) => this.events.onOutcome?.(dispatch, outcome))
          .catch((error: unknown) => this.events.onError?.(error));
        const tracked = execution.finally(() => this.inFlight.delete(tracked));
        this.inFlight.add(tracked);
        // The cursor moves after the dispatch: at-least-once, like EventBridge; the claim makes it once.
        await this.state.setSchedulerCursor(job.jobId, dispatch.scheduledTime);
        dispatched.push(dispatch);
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
