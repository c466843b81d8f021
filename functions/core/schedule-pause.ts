import {
  type Actor,
  type ControlDependencies,
  recordControlEvent,
  requireActor,
  requireKnownJob,
  type ScheduleController,
} from './controls';
import type { SchedulePause } from './ports';

/**
 * Turns one job's schedule off and on: EventBridge Scheduler's schedule State in AWS; locally the
 * scheduler loop reads the pause from the state table and fires no tick of a paused job.
 */
export interface ScheduleSwitch extends ScheduleController {
  enable(jobId: string): Promise<string[]>;
}

export type PauseDependencies = ControlDependencies & { schedules: ScheduleSwitch };

export interface PauseResult {
  jobId: string;
  pause: SchedulePause;
  /** false when the job was already paused: nothing changed and nothing was audited. */
  changed: boolean;
  disabledSchedules: string[];
}

export interface ResumeResult {
  jobId: string;
  /** The pause this resume ended; null when the job was not paused (nothing changed). */
  ended: SchedulePause | null;
  enabledSchedules: string[];
  /**
   * Why the schedule stays disabled although the pause ended: an engaged kill-switch (releasing it
   * is a gated, dangerous op; a resume never bypasses it).
   */
  stillDisabledBy: 'kill-switch' | null;
}

/**
 * `opsrail pause`: the pause is written first (the local scheduler stops at its next pass), then
 * the schedule is disabled, then the control event `schedule.pause` records who, why and which
 * schedules. A run already going on is not stopped (that is the kill-switch).
 */
export async function pauseSchedule(
  deps: PauseDependencies,
  jobId: string,
  asked: Actor,
): Promise<PauseResult> {
  const actor = requireActor(asked);
  requireKnownJob(deps.policy, jobId);
  const current = (await deps.state.getControls()).pausedJobs[jobId];
  if (current) return { jobId, pause: current, changed: false, disabledSchedules: [] };
  const pause: SchedulePause = {
    jobId,
    pausedBy: deps.redactor.id(actor.by),
    pausedAt: deps.clock.now().toISOString(),
    reason: deps.redactor.text(actor.reason),
  };
  await deps.state.setSchedulePause(jobId, pause);
  const disabledSchedules = await deps.schedules.disable(jobId);
  await recordControlEvent(deps, 'schedule.pause', actor, { disabledSchedules }, jobId);
  return { jobId, pause, changed: true, disabledSchedules };
}

/**
 * `opsrail resume`: ends the pause and enables the schedule again, unless a kill-switch (the job's
 * or the global one) is engaged: then the schedule stays disabled until that is released.
 */
export async function resumeSchedule(
  deps: PauseDependencies,
  jobId: string,
  asked: Actor,
): Promise<ResumeResult> {
  const actor = requireActor(asked);
  requireKnownJob(deps.policy, jobId);
  const controls = await deps.state.getControls();
  const ended = controls.pausedJobs[jobId] ?? null;
  const killed = !!controls.globalKillSwitch?.engaged || !!controls.jobKillSwitches[jobId]?.engaged;
  const stillDisabledBy = killed ? ('kill-switch' as const) : null;
  if (!ended) return { jobId, ended, enabledSchedules: [], stillDisabledBy };
  await deps.state.setSchedulePause(jobId, null);
  const enabledSchedules = killed ? [] : await deps.schedules.enable(jobId);
  await recordControlEvent(
    deps,
    'schedule.resume',
    actor,
    { enabledSchedules, pausedBy: ended.pausedBy, pausedAt: ended.pausedAt, stillDisabledBy },
    jobId,
  );
  return { jobId, ended, enabledSchedules, stillDisabledBy };
}
