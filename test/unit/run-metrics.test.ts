import assert from 'node:assert/strict';
import { test } from 'vitest';
import {
  APPROVAL_METRIC_DIMENSIONS,
  METRIC_NAMESPACE,
  RUN_METRIC_DIMENSIONS,
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

test('a finished run is one EMF document with the run metrics, on the dimensions the alarms use', () => {
  const [line, ...rest] = captureStdout(() =>
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
  assert.equal(rest.length, 0);
  const emf = JSON.parse(line!);
  const [directive] = emf._aws.CloudWatchMetrics;
  assert.equal(directive.Namespace, METRIC_NAMESPACE);
  assert.deepEqual([...directive.Dimensions[0]].sort(), [...RUN_METRIC_DIMENSIONS].sort());
  assert.deepEqual([emf.service, emf.stage, emf.jobId], ['opsrail', 'dev', 'a_job']);
  assert.deepEqual(
    [emf.RunCompleted, emf.RunSucceeded, emf.RunFailed, emf.RunRetries, emf.RunDurationMs],
    [1, 1, 0, 2, 1234],
  );
});

test('a failure is also counted by error class', () => {
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
  assert.equal(lines.length, 2);
  const byKind = JSON.parse(lines[1]!);
  assert.equal(byKind.errorKind, 'permission');
  assert.equal(byKind.RunFailed, 1);
  assert.equal(JSON.parse(lines[0]!).QuarantineEntered, 1);
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
