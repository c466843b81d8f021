import type { Stage } from '../../contracts';

/** Scheduler precision is one minute, so a tick is identified by its minute. */
export function tickOf(scheduledTime: Date): Date {
  return new Date(Math.floor(scheduledTime.getTime() / 60_000) * 60_000);
}

const isoSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** `<jobId>/<window start, UTC ISO>`: a second delivery of the same tick is the same run. */
export function deriveJobRunId(jobId: string, scheduledTime: Date): string {
  return `${jobId}/${isoSeconds(tickOf(scheduledTime))}`;
}

export function parseJobRunId(jobRunId: string): { jobId: string; tick: Date } | undefined {
  const match = /^([a-z][a-z0-9_]{1,62})\/(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)$/.exec(jobRunId);
  return match ? { jobId: match[1] as string, tick: new Date(match[2] as string) } : undefined;
}

/**
 * Hive-style partition prefix: Athena projects stage, dt and job_id from it
 * (docs/evidence.md#where-it-lives).
 */
export function evidencePrefix(stage: Stage, jobId: string, windowStart: Date): string {
  return `stage=${stage}/dt=${windowStart.toISOString().slice(0, 10)}/job_id=${jobId}/`;
}

/** Where the stage's control events of one UTC day lie (docs/evidence.md). */
export function controlEventsPrefix(stage: Stage, day: Date): string {
  return `stage=${stage}/dt=${day.toISOString().slice(0, 10)}/control/`;
}

export { isoSeconds };
