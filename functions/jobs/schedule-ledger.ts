import { scheduledTimes } from '../core/schedule';
import { deriveRunIdentity } from '../core/run/dependencies';
import { isoSeconds } from '../core/ids';
import type { JobContext, JobImplementation, JobResult } from './types';

/**
 * Records, from the schedules themselves, every tick each enabled job was due in the run's window
 * (the previous day): the expected_ticks table. A tick with no run record is a run that never
 * happened (the missed_ticks named query): a job that did not run is a failure nobody would
 * otherwise see.
 */
async function recordExpectedTicks(context: JobContext): Promise<JobResult> {
  const start = new Date(context.run.window.start);
  const end = new Date(context.run.window.end);
  const rows: string[] = [];
  for (const job of context.policy.jobs.filter((j) => j.enabled)) {
    // (after, until]: every tick t with start <= t < end.
    for (const tick of scheduledTimes(
      job.schedule,
      new Date(start.getTime() - 1),
      new Date(end.getTime() - 1),
      10_000,
    )) {
      const scheduledTime = isoSeconds(tick);
      const { jobRunId } = deriveRunIdentity(context.policy, {
        jobId: job.jobId,
        scheduledTime,
        trigger: 'schedule',
      });
      rows.push(
        JSON.stringify({
          jobId: job.jobId,
          scheduledTime,
          jobRunId,
          expression: job.schedule.expression,
          timezone: job.schedule.timezone,
        }),
      );
    }
  }
  return {
    quality: 'OK',
    outputs: [
      {
        name: 'expected_ticks.jsonl',
        contentType: 'application/x-ndjson',
        body: rows.length ? `${rows.join('\n')}\n` : '',
        table: 'expected_ticks',
      },
    ],
    integrityReport: null,
    diagnostics: [{ level: 'info', code: 'expected_ticks', message: String(rows.length) }],
  };
}

export const scheduleLedger: JobImplementation = {
  jobId: 'schedule_ledger',
  run: recordExpectedTicks,
};
