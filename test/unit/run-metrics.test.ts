import assert from 'node:assert/strict';
import { test } from 'vitest';
import {
  APPROVAL_METRIC_DIMENSIONS,
  METRIC_NAMESPACE,
  PER_JOB_METRIC_DIMENSIONS,
  PER_JOB_METRICS,
  RUN_METRIC_DIMENSIONS,
  TICK_METRICS,
} from '../../contracts/metrics';
import { PowertoolsRunMetrics } from '../../functions/adapters/run-metrics';

function captureStdout(fn: () => void): string[] {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(chunk.toString());
    return true;
  }) as typeof process.stdout.write;
  try {
    fn();
  } finally {
    process.stdout.write = write;
  }
  return lines.join('').trim().split('\n').filter(Boolean);
}

test('a finished run: the run metrics per stage (the job as a property), and per job only RunSucceeded, for the dead-man switch', () => {
  // Prepare / Act
  const lines = captureStdout(() =>
    new PowertoolsRunMetrics('opsrail', 'dev').record({
      jobId: 'a_job',
      succeeded: true,
      failed: false,
      refused: false,
      errorKind: null,
      attempts: 3,
      durationMs: 1234,
      quarantineEntered: false,
    }),
  );

  // Assess
  assert.equal(lines.length, 2);
  const [stage, perJob] = lines.map((l) => JSON.parse(l));
  const dimensionsOf = (emf: any) => [...emf._aws.CloudWatchMetrics[0].Dimensions[0]].sort();
  const metricsOf = (emf: any) =>
    emf._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name).sort();
  assert.equal(stage._aws.CloudWatchMetrics[0].Namespace, METRIC_NAMESPACE);
  assert.deepEqual(dimensionsOf(stage), [...RUN_METRIC_DIMENSIONS].sort());
  assert.deepEqual([stage.service, stage.stage, stage.jobId], ['opsrail', 'dev', 'a_job']);
  assert.deepEqual(
    [
      stage.RunCompleted,
      stage.RunSucceeded,
      stage.RunFailed,
      stage.RunRetries,
      stage.RunDurationMs,
    ],
    [1, 1, 0, 2, 1234],
  );
  assert.deepEqual(dimensionsOf(perJob), [...PER_JOB_METRIC_DIMENSIONS].sort());
  assert.deepEqual(metricsOf(perJob), [...PER_JOB_METRICS]);
  assert.deepEqual([perJob.jobId, perJob.RunSucceeded], ['a_job', 1]);
});

test('a failure is also counted by error class, per stage', () => {
  const lines = captureStdout(() =>
    new PowertoolsRunMetrics('opsrail', 'dev').record({
      jobId: 'a_job',
      succeeded: false,
      failed: true,
      refused: false,
      errorKind: 'permission',
      attempts: 1,
      durationMs: 10,
      quarantineEntered: true,
    }),
  );
  assert.equal(lines.length, 3);
  const byKind = JSON.parse(lines[2]!);
  assert.equal(byKind.errorKind, 'permission');
  assert.equal(byKind.RunFailed, 1);
  assert.deepEqual([...byKind._aws.CloudWatchMetrics[0].Dimensions[0]].sort(), [
    'errorKind',
    'service',
    'stage',
  ]);
  assert.equal(byKind.jobId, 'a_job', 'the job as a property');
  assert.equal(JSON.parse(lines[0]!).QuarantineEntered, 1);
  assert.equal(JSON.parse(lines[1]!).RunSucceeded, 0);
});

test('approval events are counted per stage', () => {
  const [line] = captureStdout(() =>
    new PowertoolsRunMetrics('opsrail', 'dev').approval('expired'),
  );
  const emf = JSON.parse(line!);
  assert.deepEqual(
    [...emf._aws.CloudWatchMetrics[0].Dimensions[0]].sort(),
    [...APPROVAL_METRIC_DIMENSIONS].sort(),
  );
  assert.equal(emf.ApprovalExpired, 1);
});

test('a skipped or buffered tick is counted per stage, the job a property: no per-job dimension', () => {
  // Act
  const lines = captureStdout(() => {
    const metrics = new PowertoolsRunMetrics('opsrail', 'dev');
    metrics.tick('skipped', 'a_job');
    metrics.tick('buffered', 'a_job');
  });

  // Assess
  const [skipped, buffered] = lines.map((l) => JSON.parse(l));
  for (const emf of [skipped, buffered]) {
    assert.equal(emf._aws.CloudWatchMetrics[0].Namespace, METRIC_NAMESPACE);
    assert.deepEqual(
      [...emf._aws.CloudWatchMetrics[0].Dimensions[0]].sort(),
      [...RUN_METRIC_DIMENSIONS].sort(),
    );
    assert.equal(emf.jobId, 'a_job');
  }
  assert.equal(skipped[TICK_METRICS.skipped], 1);
  assert.equal(buffered[TICK_METRICS.buffered], 1);
  assert.equal(skipped[TICK_METRICS.buffered], undefined);
});
