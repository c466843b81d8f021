import assert from 'node:assert/strict';
import { beforeAll, describe, test } from 'vitest';
import { sha256Hex } from '../../functions/core/hashing';
import { type LatencyDemo, runLatencyDemo } from '../support/demo-latency';

/**
 * Issue 14's demonstration on the local stack (test/support/demo-latency.ts; run by hand with
 * `npx tsx test/support/demo-latency.ts`): real ASL, handlers, DynamoDB Local, local S3 and the CLI,
 * with a fake endpoint and a fake webhook that checks signatures with the documented snippet.
 */
describe('latency demo: breaches, alerts, heartbeats, the weekly report and two exports', () => {
  let demo: LatencyDemo;
  beforeAll(async () => {
    demo = await runLatencyDemo();
  });

  const completed = (o: LatencyDemo['monitorRuns'][number]['outcome']) => {
    assert.equal(o.kind, 'completed', JSON.stringify(o));
    return o.kind === 'completed' ? o.summary : undefined;
  };

  test('a warning, then a critical alert whose delivery fails and is delivered by the next run, all signed', () => {
    // Assess: the 11:00 run is DEGRADED (its alert undelivered); the others OK.
    assert.deepEqual(
      demo.monitorRuns.map((r) => [r.scheduledTime, completed(r.outcome)?.quality]),
      [
        ['2026-11-25T09:00:00Z', 'OK'],
        ['2026-11-25T10:00:00Z', 'OK'],
        ['2026-11-25T11:00:00Z', 'DEGRADED'],
        ['2026-11-25T12:00:00Z', 'OK'],
      ],
    );
    assert.deepEqual(
      demo.alerts.map((a) => [a.run, a.payload.level, a.payload.at, a.payload.streak, a.answered]),
      [
        ['2026-11-25T10:00:00Z', 'warning', '2026-11-25T10:00:00.000Z', 2, 200],
        ['2026-11-25T11:00:00Z', 'critical', '2026-11-25T11:00:00.000Z', 3, 503],
        ['2026-11-25T11:00:00Z', 'critical', '2026-11-25T11:00:00.000Z', 3, 503],
        ['2026-11-25T12:00:00Z', 'critical', '2026-11-25T11:00:00.000Z', 3, 200],
      ],
    );
    const [warning, critical, , retried] = demo.alerts;
    assert.equal(warning!.payload.endpoint, 'api');
    assert.equal(warning!.payload.threshold_ms, 200);
    assert.ok((warning!.payload.p95_ms ?? 0) >= 400);
    // The retry is the same payload, signed again.
    assert.equal(retried!.body, critical!.body);
    for (const a of demo.alerts) {
      assert.equal(a.signatureValid, true);
      assert.deepEqual(a.verifier, { asReceived: true, bodyAltered: false });
    }
  });

  test('opsrail status shows each endpoint heartbeat: last success, last breach, pending alerts', () => {
    // Assess: while the critical alert is pending.
    const job = demo.statusWhilePending.json.jobs.find(
      (j) => j.jobId === 'endpoint_latency_monitor',
    );
    assert.equal(job?.monitors?.jobRunId, 'endpoint_latency_monitor/2026-11-25T11:00:00Z');
    assert.deepEqual(job?.monitors?.endpoints, [
      {
        endpoint: 'api',
        lastSuccessAt: '2026-11-25T11:00:00.000Z',
        lastBreachAt: '2026-11-25T11:00:00.000Z',
        pendingAlerts: 1,
        level: 'critical',
        streak: 3,
      },
      {
        endpoint: 'web',
        lastSuccessAt: '2026-11-25T11:00:00.000Z',
        lastBreachAt: null,
        pendingAlerts: 0,
        level: null,
        streak: 0,
      },
    ]);
    assert.ok(
      job?.heartbeat.pendingAlerts.includes(
        'api: 1 latency alert(s) not delivered yet (the next run retries)',
      ),
    );
    assert.deepEqual(
      demo.statusWhilePending.json.jobs.filter((j) => j.monitors).map((j) => j.jobId),
      ['endpoint_latency_monitor'],
    );
    const text = demo.statusWhilePending.text;
    assert.match(
      text,
      /latency monitors of endpoint_latency_monitor \(state of run endpoint_latency_monitor\/2026-11-25T11:00:00Z\):/,
    );
    // Local times are the stage's zone (Tokyo): 11:00Z is 20:00+09:00.
    assert.match(
      text,
      /\n {2}api +2026-11-25T20:00:00\+09:00 +2026-11-25T20:00:00\+09:00 +critical +3 +1\n/,
    );
    assert.match(text, /\n {2}web +2026-11-25T20:00:00\+09:00 +never +- +0 +0\n/);
    assert.match(text, /endpoint_latency_monitor: api: 1 latency alert\(s\) not delivered yet/);

    // Assess: after the recovery and the retried delivery.
    const after = demo.statusAfterRecovery.jobs.find((j) => j.jobId === 'endpoint_latency_monitor');
    assert.deepEqual(
      after?.monitors?.endpoints.map((m) => [
        m.endpoint,
        m.lastSuccessAt,
        m.lastBreachAt,
        m.pendingAlerts,
        m.level,
      ]),
      [
        ['api', '2026-11-25T12:00:00.000Z', '2026-11-25T11:00:00.000Z', 0, null],
        ['web', '2026-11-25T12:00:00.000Z', null, 0, null],
      ],
    );
    assert.ok(!after?.heartbeat.pendingAlerts.some((a) => a.includes('latency alert')));
  });

  test('the weekly report of that week is delivered once, signed, with the breaches and alerts', () => {
    // Assess
    assert.equal(completed(demo.weekly.outcome)?.quality, 'OK');
    assert.equal(demo.weekly.received.length, 1);
    const [delivery] = demo.weekly.received;
    assert.equal(delivery!.signatureValid, true);
    assert.deepEqual(delivery!.verifier, { asReceived: true, bodyAltered: false });
    assert.equal(delivery!.payload.week_start, '2026-11-22T15:00:00.000Z');
    assert.deepEqual(
      delivery!.payload.latency.map((l) => [l.endpoint, l.samples, l.breaches]),
      [
        ['api', 4, 3],
        ['web', 4, 0],
      ],
    );
    assert.deepEqual(
      delivery!.payload.alerts.map((a) => [a.level, a.at]),
      [
        ['warning', '2026-11-25T10:00:00.000Z'],
        ['critical', '2026-11-25T11:00:00.000Z'],
      ],
    );
    assert.deepEqual(delivery!.payload.runs, {
      total: 4,
      succeeded: 4,
      failed: 0,
      success_rate: 1,
    });
  });

  test('two exports: each dataset numbered 1 and 2, the roll-ups of the monitored day as stored', () => {
    // Assess
    for (const o of demo.exports.outcomes) assert.equal(completed(o)?.quality, 'OK');
    const [first, second] = demo.exports.entries;
    for (const [n, entries] of [
      [1, first!],
      [2, second!],
    ] as const)
      for (const entry of Object.values(entries)) assert.equal(entry.sequence, n, entry.dataset);
    const rollups = first!.latency_rollups;
    assert.equal(rollups.provenance.inputs.window.start, '2026-11-24T15:00:00Z');
    assert.equal(rollups.row_count, 8);
    assert.equal(rollups.checksum_sha256, sha256Hex(demo.exports.latencyRollupsJsonl));
    assert.equal(rollups.provenance.inputs.run_count, 4);
    assert.equal(rollups.provenance.job_run_id, 'dataset_export/2026-11-24T15:00:00Z');
    const rows = demo.exports.latencyRollupsJsonl
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      rows.map((r) => [r.hour.slice(11, 16), r.endpoint, r.count, r.breach]),
      [
        ['09:00', 'api', 1, true],
        ['09:00', 'web', 1, false],
        ['10:00', 'api', 1, true],
        ['10:00', 'web', 1, false],
        ['11:00', 'api', 1, true],
        ['11:00', 'web', 1, false],
        ['12:00', 'api', 1, false],
        ['12:00', 'web', 1, false],
      ],
    );
    // The monitor runs are the run records of that day; the next day has no roll-up.
    assert.equal(first!.run_records.row_count, 4);
    assert.equal(second!.latency_rollups.row_count, 0);
    assert.equal(second!.latency_rollups.provenance.inputs.window.start, '2026-11-25T15:00:00Z');
  });
});
