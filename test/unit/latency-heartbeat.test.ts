import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { LatencyMonitorState } from '../../contracts';
import { MemoryEvidenceStore } from '../../functions/adapters/memory-evidence-store';
import { canonicalJson } from '../../functions/core/hashing';
import { evidencePrefix } from '../../functions/core/ids';
import { monitorHeartbeats } from '../../functions/core/latency-heartbeat';
import { objectName, outputName } from '../../functions/core/layout';

const JOB = 'endpoint_latency_monitor';
const job = {
  jobId: JOB,
  params: {
    endpoints: [
      { name: 'api', url: 'http://127.0.0.1:1/api', p95ThresholdMs: 100 },
      { name: 'web', url: 'http://127.0.0.1:1/web', p95ThresholdMs: 100 },
    ],
  },
};

const prefixOf = (windowStart: string) => evidencePrefix('local', JOB, new Date(windowStart));
const headOf = (windowStart: string) => ({
  manifestKey: `${prefixOf(windowStart)}${objectName('manifest', windowStart)}`,
});

/** The latency_state.json a run of `windowStart` left, api with `api`'s heartbeat. */
async function stateOf(
  evidence: MemoryEvidenceStore,
  windowStart: string,
  api: { lastSuccessAt: string | null; lastBreachAt: string | null; pendingAlerts: number },
) {
  const state = LatencyMonitorState.parse({
    schema_version: 1,
    jobRunId: `${JOB}/${windowStart}`,
    rolledUpTo: null,
    monitors: [
      {
        endpoint: 'api',
        streak: {
          endpoint: 'api',
          streak: 3,
          level: 'critical',
          lastHour: api.lastBreachAt,
          lastBreachAt: api.lastBreachAt,
        },
        ...api,
      },
    ],
    pending: [],
  });
  await evidence.putObject(
    `${prefixOf(windowStart)}${outputName(windowStart, 'latency_state.json')}`,
    new TextEncoder().encode(`${canonicalJson(state)}\n`),
    'application/json',
  );
}

describe('latency monitor heartbeats (docs/latency-slo.md#the-heartbeat)', () => {
  test("the head run's state: per configured endpoint, last success, last breach, pending alerts", async () => {
    // Prepare: two runs' states; the head is the later one.
    const evidence = new MemoryEvidenceStore();
    await stateOf(evidence, '2026-11-25T09:00:00Z', {
      lastSuccessAt: '2026-11-25T09:00:00.000Z',
      lastBreachAt: null,
      pendingAlerts: 0,
    });
    await stateOf(evidence, '2026-11-25T11:00:00Z', {
      lastSuccessAt: '2026-11-25T11:00:00.000Z',
      lastBreachAt: '2026-11-25T11:00:00.000Z',
      pendingAlerts: 1,
    });
    // Act
    const beats = await monitorHeartbeats(evidence, 'local', job, headOf('2026-11-25T11:00:00Z'));
    // Assess: web is configured and has no heartbeat in that state.
    assert.equal(beats.jobRunId, `${JOB}/2026-11-25T11:00:00Z`);
    assert.deepEqual(beats.endpoints, [
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
        lastSuccessAt: null,
        lastBreachAt: null,
        pendingAlerts: 0,
        level: null,
        streak: 0,
      },
    ]);
  });

  test('a head run that left no state (it failed): the newest state of its day and the day before', async () => {
    // Prepare: states late on the 24th (UTC) and early on the 25th; the head (02:00) left none.
    const evidence = new MemoryEvidenceStore();
    for (const at of ['2026-11-24T22:00:00Z', '2026-11-24T23:00:00Z'])
      await stateOf(evidence, at, { lastSuccessAt: at, lastBreachAt: null, pendingAlerts: 0 });
    await stateOf(evidence, '2026-11-25T01:00:00Z', {
      lastSuccessAt: '2026-11-25T00:00:00Z',
      lastBreachAt: '2026-11-25T01:00:00Z',
      pendingAlerts: 2,
    });
    // Act
    const beats = await monitorHeartbeats(evidence, 'local', job, headOf('2026-11-25T02:00:00Z'));
    // Assess
    assert.equal(beats.jobRunId, `${JOB}/2026-11-25T01:00:00Z`);
    assert.deepEqual(
      beats.endpoints.map((m) => [m.endpoint, m.lastBreachAt, m.pendingAlerts]),
      [
        ['api', '2026-11-25T01:00:00Z', 2],
        ['web', null, 0],
      ],
    );
  });

  test('no run yet, or an unreadable state: every configured endpoint, with no heartbeat', async () => {
    // Prepare
    const evidence = new MemoryEvidenceStore();
    const head = headOf('2026-11-25T09:00:00Z');
    await evidence.putObject(
      `${prefixOf('2026-11-25T09:00:00Z')}${outputName('2026-11-25T09:00:00Z', 'latency_state.json')}`,
      new TextEncoder().encode('{"schema_version":1,"truncated'),
      'application/json',
    );
    // Act
    const never = await monitorHeartbeats(evidence, 'local', job, undefined);
    const unreadable = await monitorHeartbeats(evidence, 'local', job, head);
    // Assess
    for (const beats of [never, unreadable]) {
      assert.equal(beats.jobRunId, null);
      assert.deepEqual(
        beats.endpoints.map((m) => [m.endpoint, m.lastSuccessAt, m.pendingAlerts]),
        [
          ['api', null, 0],
          ['web', null, 0],
        ],
      );
    }
  });
});
