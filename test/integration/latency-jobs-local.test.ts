import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { LatencyAlertPayload, WeeklyHealthPayload } from '../../contracts';
import { LocalRuntime } from '../../local/runtime';
import { mirrorEvidence, queryEvidence, runNamedQuery } from '../../local/query';
import type { LocalStack } from '../../local/stack';
import { FakeEndpoint, FakeWebhook } from '../support/fake-http';
import { policyFixture, testStack } from '../support/local';

const KEY = 'whsec-local-latency-key';
const KEY_REF = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:local-hook-AbCdEf';
const TOKEN_REF = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:local-token-AbCdEf';
const CANARY = 'CANARY-local-latency-9d2e4b7a';

/** Both jobs on the local stack: real ASL, real handlers, DynamoDB Local, local S3, DuckDB. */
describe('endpoint_latency_monitor and weekly_health_report on the local stack', () => {
  const endpoint = new FakeEndpoint();
  const hook = new FakeWebhook(KEY);
  let stack: LocalStack;
  let runtime: LocalRuntime;

  beforeAll(async () => {
    await endpoint.start();
    await hook.start();
    const webhook = {
      url: hook.url,
      signingKey: { secret_ref: KEY_REF },
      delivery: { baseDelayMs: 1, maxDelayMs: 5 },
    };
    const policyDir = policyFixture({
      'catalog.json': (catalog) => ({
        ...catalog,
        jobs: catalog.jobs.map((j: { jobId: string }) =>
          j.jobId === 'endpoint_latency_monitor'
            ? {
                ...j,
                schedule: { expression: 'rate(1 hour)' },
                window: { kind: 'tick', minutes: 60 },
                params: {
                  endpoints: [
                    {
                      name: 'api',
                      url: `${endpoint.base}/api`,
                      timeoutMs: 2000,
                      p95ThresholdMs: 100,
                      headers: { Authorization: { secret_ref: TOKEN_REF } },
                    },
                  ],
                  warningAfter: 1,
                  criticalAfter: 2,
                  webhook,
                },
              }
            : j.jobId === 'weekly_health_report'
              ? { ...j, params: { webhook } }
              : j,
        ),
      }),
      'local.json': (policy) => ({
        ...policy,
        jobs: {
          ...policy.jobs,
          endpoint_latency_monitor: { enabled: true },
          weekly_health_report: { enabled: true },
        },
      }),
    });
    stack = await testStack({ policyDir });
    writeFileSync(
      stack.env.OPSRAIL_SECRETS_FILE as string,
      JSON.stringify({ [KEY_REF]: KEY, [TOKEN_REF]: `Bearer ${CANARY}` }),
    );
    runtime = new LocalRuntime(stack.env);
  });
  afterAll(async () => {
    await stack?.stop();
    await endpoint.stop();
    await hook.stop();
  });

  test('two slow hours alert twice, the week after reports them, signed; the tables are queryable and hold no secret', async () => {
    // Prepare: two hours of the ISO week of Mon 2026-11-23 (Tokyo), the endpoint slow.
    endpoint.scripts = { '/api': [{ delayMs: 200, status: 200 }] };
    hook.reset();
    // Act
    const monitored: Awaited<ReturnType<LocalRuntime['run']>>[] = [];
    for (const scheduledTime of ['2026-11-25T09:00:00Z', '2026-11-25T10:00:00Z'])
      monitored.push(
        await runtime.run(
          { jobId: 'endpoint_latency_monitor', scheduledTime, trigger: 'manual' },
          { retryPauseMs: 1 },
        ),
      );
    // Assess
    for (const outcome of monitored) {
      assert.equal(outcome.kind, 'completed', JSON.stringify(outcome));
      assert.ok(outcome.kind === 'completed');
      assert.deepEqual([outcome.summary.status, outcome.summary.quality], ['ok', 'OK']);
    }
    assert.ok(
      endpoint.seenHeaders.some((h) => h.authorization === `Bearer ${CANARY}`),
      'the header came from its secret_ref',
    );
    const alerts = hook.received.map((r) => LatencyAlertPayload.parse(JSON.parse(r.body)));
    assert.deepEqual(
      alerts.map((a) => [a.level, a.at, a.streak]),
      [
        ['warning', '2026-11-25T09:00:00.000Z', 1],
        ['critical', '2026-11-25T10:00:00.000Z', 2],
      ],
    );
    assert.ok(hook.received.every((r) => r.signatureValid));

    // Act: the report for that week, on Monday 01:00 Tokyo.
    hook.reset([{ status: 503 }, { status: 200 }]);
    const reported = await runtime.run(
      { jobId: 'weekly_health_report', scheduledTime: '2026-11-29T16:00:00Z', trigger: 'manual' },
      { retryPauseMs: 1 },
    );
    // Assess
    assert.equal(reported.kind, 'completed', JSON.stringify(reported));
    assert.ok(reported.kind === 'completed');
    assert.equal(reported.summary.quality, 'OK');
    assert.equal(hook.received.length, 2);
    assert.equal(hook.deliveries, 1);
    const week = WeeklyHealthPayload.parse(JSON.parse(hook.received[1]!.body));
    assert.equal(week.week_start, '2026-11-22T15:00:00.000Z');
    assert.deepEqual(
      week.latency.map((l) => [l.endpoint, l.samples, l.breaches]),
      [['api', 2, 2]],
    );
    assert.deepEqual(
      week.alerts.map((a) => a.level),
      ['warning', 'critical'],
    );
    assert.deepEqual(week.runs, { total: 2, succeeded: 2, failed: 0, success_rate: 1 });

    // Assess: DuckDB sees the tables Athena declares.
    const root = await mirrorEvidence(runtime.deps.evidence, 'local');
    const rollups = await queryEvidence(
      root,
      'SELECT hour, endpoint, "count" AS n, breach, job_id FROM latency_rollups WHERE dt >= \'2026-11-25\' ORDER BY hour',
    );
    assert.deepEqual(
      rollups.map((r) => [r.hour, r.endpoint, Number(r.n), r.breach, r.job_id]),
      [
        ['2026-11-25T09:00:00.000Z', 'api', 1, true, 'endpoint_latency_monitor'],
        ['2026-11-25T10:00:00.000Z', 'api', 1, true, 'endpoint_latency_monitor'],
      ],
    );
    const [samples] = await queryEvidence(root, 'SELECT count(*) AS n FROM latency_samples');
    assert.equal(Number(samples!.n), 2);
    const delivered = await queryEvidence(
      root,
      'SELECT level, delivery_status FROM latency_alerts ORDER BY "at"',
    );
    assert.deepEqual(
      delivered.map((r) => [r.level, r.delivery_status]),
      [
        ['warning', 'delivered'],
        ['critical', 'delivered'],
      ],
    );

    // The named queries over them, translated as `opsrail query --named` does (a wide --days window).
    const breaches = await runNamedQuery(root, 'latency_breaches', 3650);
    assert.deepEqual(
      breaches.map((r) => [r.endpoint, Number(r.breaching_hours), r.last_breach_hour]),
      [['api', 2, '2026-11-25T10:00:00.000Z']],
    );
    const recent = await runNamedQuery(root, 'latency_samples_recent', 3650);
    assert.deepEqual(
      recent.map((r) => [r.endpoint, Number(r.samples), Number(r.failed)]),
      [['api', 2, 0]],
    );

    // Assess: no evidence object holds the header's secret (or the signing key).
    const keys = await runtime.deps.evidence.list('stage=local/');
    assert.ok(keys.some((k) => k.endsWith('/webhook_delivery.json')));
    for (const key of keys) {
      const text = new TextDecoder().decode(await runtime.deps.evidence.getObject(key));
      assert.ok(!text.includes(CANARY), key);
      assert.ok(!text.includes(KEY), key);
    }
  });
});
