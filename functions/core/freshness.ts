import type { JobDefinition } from '../../contracts';
import type { JobState } from './ports';
import { nextRunTimes } from './schedule';

const DAY_SECONDS = 86_400;
/** CloudWatch evaluates an alarm over at most 7 days. */
const MAX_EVALUATION_SECONDS = 7 * DAY_SECONDS;

/**
 * The longest gap between two consecutive ticks of a schedule (over its next ticks), in seconds;
 * null for a one-off at(…) schedule, which has no interval to watch.
 */
export function expectedIntervalSeconds(
  job: Pick<JobDefinition, 'schedule'>,
  from = new Date('2026-01-05T00:00:00Z'),
): number | null {
  const ticks = nextRunTimes(job.schedule, from, 60);
  if (ticks.length < 2) return null;
  let max = 0;
  for (let i = 1; i < ticks.length; i++)
    max = Math.max(max, (ticks[i]!.getTime() - ticks[i - 1]!.getTime()) / 1000);
  return max;
}

/**
 * The dead-man alarm's window for "no success within interval + grace": its period and evaluation
 * periods (CloudWatch: whole minutes up to a day, then whole days, 7 days at most).
 */
export function deadManWindow(
  intervalSeconds: number,
  graceMinutes: number,
): { periodSeconds: number; evaluationPeriods: number } {
  const window = Math.min(intervalSeconds + graceMinutes * 60, MAX_EVALUATION_SECONDS);
  if (window <= DAY_SECONDS)
    return { periodSeconds: Math.ceil(window / 60) * 60, evaluationPeriods: 1 };
  return { periodSeconds: DAY_SECONDS, evaluationPeriods: Math.ceil(window / DAY_SECONDS) };
}

/** How a job's heartbeat reads (docs/observability.md#heartbeats-and-freshness). */
export interface Heartbeat {
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  /** The error kind of the last failure (e.g. `permission`, `timeout`). */
  lastFailureKind: string | null;
  /** How old the last success may be: the dead-man alarm's window; null when nothing is watched. */
  maxAgeSeconds: number | null;
  /** The last success is older than allowed (or there never was one) while the job is enabled. */
  stale: boolean;
  /** What would alert now: stale, quarantined, failing. */
  pendingAlerts: string[];
}

/**
 * A job's heartbeat from its state, with the dead-man alarm's rule: an enabled job with no success
 * within its schedule's interval plus `graceMinutes` is stale, as its alarm would be in AWS.
 */
export function heartbeatOf(
  job: Pick<JobDefinition, 'schedule' | 'enabled'>,
  state: JobState | undefined,
  graceMinutes: number,
  now: Date,
): Heartbeat {
  const interval = expectedIntervalSeconds(job);
  const window = interval === null ? null : deadManWindow(interval, graceMinutes);
  const maxAgeSeconds = window ? window.periodSeconds * window.evaluationPeriods : null;
  const lastSuccessAt = state?.lastSuccessAt ?? null;
  const ageSeconds =
    lastSuccessAt === null ? null : (now.getTime() - Date.parse(lastSuccessAt)) / 1000;
  const stale =
    job.enabled && maxAgeSeconds !== null && (ageSeconds === null || ageSeconds > maxAgeSeconds);
  const pendingAlerts: string[] = [];
  if (stale)
    pendingAlerts.push(
      ageSeconds === null
        ? `stale: no successful run yet (allowed age ${formatSeconds(maxAgeSeconds!)})`
        : `stale: last success ${formatSeconds(ageSeconds)} ago (allowed ${formatSeconds(maxAgeSeconds!)})`,
    );
  if (state?.quarantine) pendingAlerts.push(`quarantined since ${state.quarantine.since}`);
  if ((state?.consecutiveFailures ?? 0) > 0)
    pendingAlerts.push(`failing: ${state!.consecutiveFailures} failure(s) in a row`);
  return {
    lastSuccessAt,
    lastFailureAt: state?.lastFailureAt ?? null,
    lastFailureKind: state?.lastFailureKind ?? null,
    maxAgeSeconds,
    stale,
    pendingAlerts,
  };
}

function formatSeconds(seconds: number): string {
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  const hours = minutes / 60;
  return hours < 48
    ? `${Math.round(hours * 10) / 10} h`
    : `${Math.round((hours / 24) * 10) / 10} d`;
}
