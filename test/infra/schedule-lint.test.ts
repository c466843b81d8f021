import assert from 'node:assert/strict';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, test } from 'vitest';
import { buildApp } from '../../infra/app';
import { SYNTH_TIME_CONTEXT } from '../../infra/constructs/job-scheduling';
import { nextRunTimes } from '../../functions/core/schedule';
import { policyFixture } from '../support/local';
import { templateApp } from '../support/synth';

const SYNTH_TIME = '2026-12-02T16:07:00Z';

/** dev with a DST-skipped cron, a rate job in a DST zone, and the Tokyo ledger as it is. */
const policyDir = policyFixture({
  'catalog.json': (c) => ({
    ...c,
    jobs: c.jobs.map((job: { jobId: string }) => {
      if (job.jobId === 'evidence_integrity_check')
        return {
          ...job,
          schedule: { expression: 'cron(30 2 * * ? *)', timezone: 'America/New_York' },
        };
      if (job.jobId === 'endpoint_health_check')
        return {
          ...job,
          schedule: { expression: 'rate(15 minutes)', timezone: 'America/New_York' },
        };
      return job;
    }),
  }),
  'dev.json': (p) => ({ ...p, jobs: { ...p.jobs, endpoint_health_check: { enabled: true } } }),
});

const stack = buildApp(templateApp({ stage: 'dev', [SYNTH_TIME_CONTEXT]: SYNTH_TIME }), {
  policyDir,
});
const template = Template.fromStack(stack);
const annotations = Annotations.fromStack(stack);

/** The schedule resource of a job, by its name. */
function scheduleOf(jobId: string): { Properties: Record<string, unknown> } {
  const found = Object.values(
    template.findResources('AWS::Scheduler::Schedule', {
      Properties: { Name: Match.stringLikeRegexp(`-${jobId}$`) },
    }),
  );
  assert.equal(found.length, 1, jobId);
  return found[0] as { Properties: Record<string, unknown> };
}

/** The warnings on a job's schedule construct. */
const warningsOf = (jobId: string) =>
  annotations
    .findWarning('*', Match.anyValue())
    .filter((w) => w.id.endsWith(`/Schedule-${jobId}`))
    .map((w) => String(w.entry.data));

describe('schedules at synth: lint warnings and the rate anchor', () => {
  test('a rate schedule starts on the local grid: the first multiple of 15 minutes since the epoch 15 minutes or more after the synth', () => {
    // Act
    const rate = scheduleOf('endpoint_health_check');
    // Assess
    assert.equal(rate.Properties.StartDate, '2026-12-02T16:30:00.000Z');
    // The local scheduler's ticks after the synth include it: same instants in AWS and locally.
    const local = nextRunTimes(
      { expression: 'rate(15 minutes)', timezone: 'America/New_York' },
      new Date(SYNTH_TIME),
      3,
    ).map((d) => d.toISOString());
    assert.deepEqual(local, [
      '2026-12-02T16:15:00.000Z',
      '2026-12-02T16:30:00.000Z',
      '2026-12-02T16:45:00.000Z',
    ]);
  });

  test('cron schedules get no StartDate', () => {
    // Act / Assess
    assert.equal(scheduleOf('evidence_integrity_check').Properties.StartDate, undefined);
    assert.equal(scheduleOf('schedule_ledger').Properties.StartDate, undefined);
  });

  test("each finding is a warning on its job's schedule construct; a job in Asia/Tokyo has none", () => {
    // Act
    const cron = warningsOf('evidence_integrity_check');
    const rate = warningsOf('endpoint_health_check');
    // Assess
    assert.equal(cron.length, 1, cron.join('\n'));
    assert.match(
      cron[0] ?? '',
      /^evidence_integrity_check: cron\(30 2 \* \* \? \*\) in America\/New_York: 02:30 on 2027-03-14 does not exist/,
    );
    assert.match(cron[0] ?? '', /opsrail:schedule-lint:dst_skipped_time/);
    assert.equal(rate.length, 1, rate.join('\n'));
    assert.match(rate[0] ?? '', /rate_in_dst_zone/);
    assert.deepEqual(warningsOf('schedule_ledger'), []);
  });
});
