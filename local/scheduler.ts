import type { JobDefinition } from '../contracts';
import type { Clock } from '../functions/core/clock';
import { isoSeconds } from '../functions/core/ids';
import type { ResolvedPolicy } from '../functions/core/policy';
import type { OpenRun, StateStore } from '../functions/core/ports';
import { scheduledTimes } from '../functions/core/schedule';
import type { ExecutionOutcome, LocalRuntime } from './runtime';

export interface Dispatch {
  jobId: string;
  scheduledTime: string;
}

export interface SchedulerEvents {
  onDispatch?(dispatch: Dispatch): void;
  onOutcome?(dispatch: Dispatch, outcome: ExecutionOutcome): void;
  /** Once per gap: `count` ticks after `from` and up to `to` were past the catch-up window. */
  onMissed?(jobId: string, from: string, to: string, count: number): void;
  onSkipped?(jobId: string, tick: string, why: string): void;
  /** A run left open is delivered again: its lease expired, or its holder is known to be dead. */
  onResumed?(dispatch: Dispatch, why: string): void;
  onError?(error: unknown): void;
}

/**
 * Tells whether the process holding a run claim (named by its execution id) still runs; null:
 * cannot tell.
 */
export type HolderLiveness = (executionId: string) => boolean | null;

export interface SchedulerOptions {
  /**
   * Locally a dead holder is seen at once; without this, a claim is resumed when its lease expires.
   */
  isHolderAlive?: HolderLiveness;
}

interface Queued extends Dispatch {
  trigger: 'schedule' | 'manual';
  /** Scheduled ticks move the job's cursor when they start; resumed runs do not. */
  movesCursor: boolean;
}

const MAX_TICKS_PER_JOB_PER_PASS = 100;
/** `scheduler.maxConcurrentRuns` when the policy does not say (docs/local-stack.md). */
export const DEFAULT_MAX_CONCURRENT_RUNS = 4;
const MAX_MISSED_COUNTED = 100_000;
const keyOf = (d: Dispatch) => `${d.jobId}@${d.scheduledTime}`;

/**
 * The local stand-in for EventBridge Scheduler. Each job's last dispatched tick is kept in the
 * state table, so a restart neither repeats a tick (and if it did, the run claim would suppress it)
 * nor, past the policy's catch-up window, floods the stack with ticks it missed while it was down.
 * Due ticks and runs to resume wait in one queue, oldest first, and at most
 * `scheduler.maxConcurrentRuns` run at a time (docs/local-stack.md).
 */
export class LocalScheduler {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly queue: Queued[] = [];
  /** Queued or running, by jobId@scheduledTime: nothing is delivered twice by this scheduler. */
  private readonly pending = new Set<string>();
  /** Per job, the latest tick queued (the stored cursor moves only when a tick starts). */
  private readonly queuedThrough = new Map<string, string>();
  private cursorWrites: Promise<void> = Promise.resolve();
  private readonly cursorAt = new Map<string, string>();

  constructor(
    private readonly runtime: Pick<LocalRuntime, 'run'>,
    private readonly policy: ResolvedPolicy,
    private readonly state: StateStore,
    private readonly clock: Clock,
    private readonly events: SchedulerEvents = {},
    private readonly options: SchedulerOptions = {},
  ) {}

  enabledJobs(): JobDefinition[] {
    return this.policy.jobs.filter((job) => job.enabled);
  }

  private enqueue(entry: Queued): boolean {
    if (this.pending.has(keyOf(entry))) return false;
    this.pending.add(keyOf(entry));
    const at = this.queue.findIndex(
      (q) =>
        q.scheduledTime > entry.scheduledTime ||
        (q.scheduledTime === entry.scheduledTime && q.jobId > entry.jobId),
    );
    this.queue.splice(at === -1 ? this.queue.length : at, 0, entry);
    return true;
  }

  /** Starts queued runs, oldest first, while fewer than the policy's maximum are running. */
  private pump(): void {
    const limit = this.policy.settings.scheduler.maxConcurrentRuns ?? DEFAULT_MAX_CONCURRENT_RUNS;
    while (this.inFlight.size < limit && this.queue.length) {
      const entry = this.queue.shift() as Queued;
      const dispatch = { jobId: entry.jobId, scheduledTime: entry.scheduledTime };
      this.events.onDispatch?.(dispatch);
      const execution = this.runtime
        .run({ ...dispatch, trigger: entry.trigger })
        .then((outcome) => this.events.onOutcome?.(dispatch, outcome))
        .catch((error: unknown) => this.events.onError?.(error));
      const tracked = execution.finally(() => {
        this.inFlight.delete(tracked);
        this.pending.delete(keyOf(entry));
        this.pump();
      });
      this.inFlight.add(tracked);
      // The cursor moves after the dispatch: at-least-once, like EventBridge; the claim makes it
      // once.
      if (entry.movesCursor) this.moveCursor(entry.jobId, entry.scheduledTime);
    }
  }

  /** Cursor writes one after another, and only forward: a job's cursor never goes back. */
  private moveCursor(jobId: string, tick: string): void {
    const written = this.cursorAt.get(jobId);
    if (written && written >= tick) return;
    this.cursorAt.set(jobId, tick);
    this.cursorWrites = this.cursorWrites
      .then(() => this.state.setSchedulerCursor(jobId, tick))
      .catch((error: unknown) => this.events.onError?.(error));
  }

  private resumable(open: OpenRun, now: number): string | null {
    if (Date.parse(open.leaseExpiresAt) < now) return `its lease expired at ${open.leaseExpiresAt}`;
    if (this.options.isHolderAlive?.(open.executionId) === false)
      return `its holder (execution ${open.executionId}) is gone`;
    return null;
  }

  /**
   * Restartable (docs/local-stack.md#dead-holders-of-runs): a run left claimed by a stopped (or
   * killed) process is delivered again once its lease has expired, or at once when its holder is
   * known to be dead; Preflight takes it over, and Powertools idempotency keeps the job's effect
   * single. A run this scheduler already has queued or running is not delivered again.
   */
  async resumeOpenRuns(): Promise<Dispatch[]> {
    const now = this.clock.now().getTime();
    const resumed: Dispatch[] = [];
    for (const open of await this.state.listOpenRuns()) {
      if (!this.policy.jobs.some((j) => j.jobId === open.jobId)) continue;
      const why = this.resumable(open, now);
      if (!why) continue;
      const dispatch = { jobId: open.jobId, scheduledTime: open.scheduledTime };
      const trigger = open.trigger === 'manual' ? 'manual' : 'schedule';
      if (!this.enqueue({ ...dispatch, trigger, movesCursor: false })) continue;
      this.events.onResumed?.(dispatch, why);
      resumed.push(dispatch);
    }
    this.pump();
    return resumed;
  }

  /** Queues every tick that is due (and resumes abandoned runs); returns what it queued. */
  async tick(): Promise<Dispatch[]> {
    const now = this.clock.now();
    const catchUpFloor = new Date(
      now.getTime() - this.policy.settings.scheduler.catchUpMinutes * 60_000,
    );
    const dispatched: Dispatch[] = [...(await this.resumeOpenRuns())];
    const controls = await this.state.getControls();
    for (const job of this.enabledJobs()) {
      const cursor = await this.state.getSchedulerCursor(job.jobId);
      if (!cursor) {
        // First start: begin from now, as a new EventBridge schedule would.
        this.moveCursor(job.jobId, isoSeconds(now));
        continue;
      }
      const queued = this.queuedThrough.get(job.jobId);
      let from = new Date(queued && queued > cursor ? queued : cursor);
      if (from < catchUpFloor) {
        // Reported once: the cursor moves to the floor, so the next pass does not see the same gap.
        const missed = scheduledTimes(job.schedule, from, catchUpFloor, MAX_MISSED_COUNTED).length;
        if (missed > 0)
          this.events.onMissed?.(job.jobId, isoSeconds(from), isoSeconds(catchUpFloor), missed);
        from = catchUpFloor;
        this.moveCursor(job.jobId, isoSeconds(catchUpFloor));
      }
      // An engaged kill-switch disables the job's schedule, as it does in EventBridge Scheduler.
      const killed =
        controls.globalKillSwitch?.engaged || controls.jobKillSwitches[job.jobId]?.engaged;
      // A paused job (opsrail pause) fires no tick, as a DISABLED EventBridge schedule.
      const paused = controls.pausedJobs[job.jobId];
      for (const at of scheduledTimes(job.schedule, from, now, MAX_TICKS_PER_JOB_PER_PASS)) {
        const dispatch = { jobId: job.jobId, scheduledTime: isoSeconds(at) };
        this.queuedThrough.set(job.jobId, dispatch.scheduledTime);
        if (killed) {
          this.events.onSkipped?.(
            job.jobId,
            dispatch.scheduledTime,
            'kill-switch engaged: schedule disabled',
          );
          this.moveCursor(job.jobId, dispatch.scheduledTime);
        } else if (paused) {
          this.events.onSkipped?.(
            job.jobId,
            dispatch.scheduledTime,
            `paused by ${paused.pausedBy} at ${paused.pausedAt}: schedule disabled`,
          );
          this.moveCursor(job.jobId, dispatch.scheduledTime);
        } else if (this.enqueue({ ...dispatch, trigger: 'schedule', movesCursor: true })) {
          dispatched.push(dispatch);
        }
      }
    }
    this.pump();
    await this.cursorWrites;
    return dispatched;
  }

  /** Waits until nothing is queued or running (and every cursor write landed). */
  async drain(): Promise<void> {
    while (this.inFlight.size || this.queue.length) await Promise.all([...this.inFlight]);
    await this.cursorWrites;
  }

  /**
   * Ticks every `intervalMs` until `signal` aborts, then waits for runs in flight (queued ones are
   * dropped).
   */
  async loop(signal: AbortSignal, intervalMs = 5_000): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.tick();
      } catch (error) {
        this.events.onError?.(error);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        const abort = () => {
          clearTimeout(timer);
          resolve();
        };
        signal.addEventListener('abort', abort, { once: true });
      });
    }
    this.dropQueued();
    await this.drain();
  }

  /**
   * On stop, queued ticks are not started; their cursor has not moved, so the next start runs them.
   */
  private dropQueued(): void {
    for (const entry of this.queue.splice(0)) this.pending.delete(keyOf(entry));
  }
}
