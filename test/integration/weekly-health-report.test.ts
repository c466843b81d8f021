import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { WebhookDelivery, WeeklyHealthPayload, WeeklyHealthReportParams } from '../../contracts';
import { MemoryEvidenceStore } from '../../functions/adapters/memory-evidence-store';
import { fetchWebhookPoster } from '../../functions/adapters/webhook-poster';
import { canonicalJson, sha256Hex } from '../../functions/core/hashing';
import { evidencePrefix } from '../../functions/core/ids';
import type { RunItem } from '../../functions/core/ports';
import { qualityReason } from '../../functions/core/run-history';
import { previousIsoWeek, reportWeeklyHealth } from '../../functions/jobs/weekly-health-report';
import { FakeWebhook } from '../support/fake-http';

const KEY = 'whsec-weekly-test-key';
const KEY_REF = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:weekly-hook-AbCdEf';
const MON = 'endpoint_latency_monitor';
// Monday 2026-11-30 01:00 in Tokyo: the report covers Mon 2026-11-23 00:00 JST = 11-22 15:00 UTC.
const TICK = '2026-11-29T16:00:00Z';
const WEEK_START = '2026-11-22T15:00:00.000Z';

const rollup = (
  endpoint: string,
  hour: string,
  p50: number | null,
  p95: number | null,
  breach: boolean,
) => ({
  hour,
  endpoint,
  count: 4,
  failures: p95 === null ? 4 : 0,
  p50_ms: p50,
  p95_ms: p95,
  threshold_ms: 300,
  breach,
  jobRunId: `${MON}/${hour}`,
});

/** The week's roll-ups and alerts as the monitor's runs left them, across the UTC days they touch. */
async function fixture(): Promise<MemoryEvidenceStore> {
  const evidence = new MemoryEvidenceStore();
  const put = async (folder: string, at: string, rows: unknown[]) =>
    evidence.putObject(
      `${evidencePrefix('local', MON, new Date(at))}${folder}/run=${at.replace(/[-:]/g, '').replace('.000', '')}.jsonl`,
      new TextEncoder().encode(`${rows.map((r) => canonicalJson(r)).join('\n')}\n`),
      'application/x-ndjson',
    );
  // Before the week (Sunday 14:00 UTC = 23:00 JST, the week before): not reported.
  await put('latency_rollups', '2026-11-22T14:45:00.000Z', [
    rollup('api', '2026-11-22T14:00:00.000Z', 999, 999, true),
  ]);
  await put('latency_rollups', '2026-11-23T10:45:00.000Z', [
    rollup('api', '2026-11-23T10:00:00.000Z', 10, 100, false),
    rollup('web', '2026-11-23T10:00:00.000Z', 50, null, true),
  ]);
  await put('latency_rollups', '2026-11-25T08:45:00.000Z', [
    rollup('api', '2026-11-25T08:00:00.000Z', 20, 400, true),
  ]);
  await put('latency_rollups', '2026-11-25T09:45:00.000Z', [
    rollup('api', '2026-11-25T09:00:00.000Z', 30, 350, true),
  ]);
  // The week's last hour (Sunday 23:00 JST) is in it; the next one is not.
  await put('latency_rollups', '2026-11-29T14:45:00.000Z', [
    rollup('api', '2026-11-29T14:00:00.000Z', 40, 200, false),
  ]);
  await put('latency_rollups', '2026-11-29T15:45:00.000Z', [
    rollup('api', '2026-11-29T15:00:00.000Z', 999, 999, true),
  ]);
  await put('latency_alerts', '2026-11-25T09:45:00.000Z', [
    {
      at: '2026-11-25T09:00:00.000Z',
      endpoint: 'api',
      level: 'warning',
      streak: 2,
      delivery_status: 'delivered',
      payload_checksum_sha256: 'a'.repeat(64),
      jobRunId: `${MON}/2026-11-25T09:45:00Z`,
    },
  ]);
  return evidence;
}

const runItem = (jobId: string, scheduledTime: string, status: string | null) =>
  ({
    jobRunId: `${jobId}/${scheduledTime}`,
    jobId,
    scheduledTime,
    phase: status === null ? 'claimed' : 'finalized',
    ...(status === null ? {} : { summary: { status } }),
  }) as unknown as RunItem;
const RUNS = [
  runItem('schedule_ledger', '2026-11-23T00:05:00Z', 'ok'),
  runItem('schedule_ledger', '2026-11-24T00:05:00Z', 'ok'),
  runItem(MON, '2026-11-25T09:45:00Z', 'ok'),
  runItem('evidence_integrity_check', '2026-11-26T03:00:00Z', 'error'),
  runItem('evidence_integrity_check', '2026-11-27T03:00:00Z', null), // still open: not counted
  runItem('schedule_ledger', '2026-11-30T00:05:00Z', 'ok'), // after the week
];

describe('weekly_health_report from a fixture of roll-ups and runs, to a fake webhook', () => {
  const hook = new FakeWebhook(KEY);
  beforeAll(() => hook.start());
  afterAll(() => hook.stop());

  const report = async (
    evidence: MemoryEvidenceStore,
    override?: (p: WeeklyHealthPayload) => unknown,
  ) => {
    const queries: unknown[] = [];
    const out = await reportWeeklyHealth(
      {
        stage: 'local',
        scheduledTime: TICK,
        timezone: 'Asia/Tokyo',
        params: WeeklyHealthReportParams.parse({
          webhook: {
            url: hook.url,
            signingKey: { secret_ref: KEY_REF },
            delivery: { baseDelayMs: 1, maxDelayMs: 5 },
          },
        }),
      },
      {
        // The real clock: the receiver refuses a signature more than five minutes from its own.
        clock: { now: () => new Date() },
        evidence,
        runs: {
          listRuns: async (query) => {
            queries.push(query);
            return RUNS.filter((r) => !query.since || r.scheduledTime >= query.since);
          },
        },
        secrets: { read: async (ref) => (ref === KEY_REF ? KEY : Promise.reject(new Error(ref))) },
        webhooks: { http: fetchWebhookPoster, sleep: async () => undefined, random: () => 0 },
      },
      override,
    );
    return { ...out, queries };
  };

  test('the previous ISO week in the job zone: Monday 00:00 local as UTC, across a DST change too', () => {
    // Prepare / Act / Assess
    assert.equal(previousIsoWeek(new Date(TICK), 'Asia/Tokyo').start.toISOString(), WEEK_START);
    // Europe/Berlin left summer time on 2026-10-25: the week of Mon 10-19 started at 22:00 UTC.
    const berlin = previousIsoWeek(new Date('2026-10-26T06:00:00Z'), 'Europe/Berlin');
    assert.deepEqual(
      [berlin.start.toISOString(), berlin.end.toISOString()],
      ['2026-10-18T22:00:00.000Z', '2026-10-25T23:00:00.000Z'],
    );
  });

  test('payload numbers from the week; 503, 503, 200: three attempts, one verified delivery, recorded', async () => {
    // Prepare
    const evidence = await fixture();
    hook.reset([{ status: 503 }, { status: 503 }, { status: 200 }]);
    // Act
    const { payload, delivery, result, queries } = await report(evidence);
    // Assess
    const p = WeeklyHealthPayload.parse(payload);
    assert.equal(p.week_start, WEEK_START);
    assert.ok(Math.abs(Date.parse(p.generated_at) - Date.now()) < 60_000, p.generated_at);
    assert.deepEqual(queries, [{ since: WEEK_START }]);
    assert.deepEqual(p.latency, [
      // Hourly p50s 10, 20, 30, 40 → nearest-rank median 20; p95s 100, 400, 350, 200 → 400.
      { endpoint: 'api', p50_ms: 20, p95_ms: 400, samples: 16, breaches: 2 },
      // Its only hour's p95 fell on failures: null, and a breach.
      { endpoint: 'web', p50_ms: 50, p95_ms: null, samples: 4, breaches: 1 },
    ]);
    assert.deepEqual(p.runs, { total: 4, succeeded: 3, failed: 1, success_rate: 0.75 });
    assert.deepEqual(p.alerts, [
      { endpoint: 'api', level: 'warning', at: '2026-11-25T09:00:00.000Z', streak: 2 },
    ]);
    const { payload_checksum_sha256, ...rest } = p;
    assert.equal(payload_checksum_sha256, sha256Hex(canonicalJson(rest)));

    assert.equal(delivery.status, 'delivered');
    assert.deepEqual(
      delivery.attempts.map((a) => a.status_code),
      [503, 503, 200],
    );
    assert.equal(hook.received.length, 3);
    assert.equal(hook.deliveries, 1);
    assert.ok(hook.received.every((r) => r.signatureValid));
    assert.equal(result.quality, 'OK');
    const stored = result.outputs.find((o) => o.name === 'weekly_health_payload.json')!;
    assert.equal(stored.body.trim(), hook.received[2]!.body, 'the payload kept is the one sent');
    const record = WebhookDelivery.parse(
      JSON.parse(result.outputs.find((o) => o.name === 'webhook_delivery.json')!.body),
    );
    assert.equal(record.payload_checksum_sha256, sha256Hex(hook.received[2]!.body));
    assert.equal(record.payload_bytes, Buffer.byteLength(hook.received[2]!.body));
    assert.match(record.signature, /^t=\d+,v1=[0-9a-f]{64}$/);
  });

  test('401: auth_failed, one attempt, and the run is DEGRADED with the reason', async () => {
    // Prepare
    hook.reset([{ status: 401 }]);
    // Act
    const { delivery, result } = await report(await fixture());
    // Assess
    assert.equal(delivery.status, 'auth_failed');
    assert.equal(delivery.attempts.length, 1);
    assert.equal(result.quality, 'DEGRADED');
    assert.match(
      qualityReason(result.quality, result.diagnostics, null) ?? '',
      /delivery_auth_failed: the weekly health report was not delivered .*auth_failed \(HTTP 401\)/,
    );
    assert.ok(result.outputs.some((o) => o.name === 'webhook_delivery.json'));
  });

  test('an invalid payload is never sent: error, schema_validation_failed, DEGRADED', async () => {
    // Prepare
    hook.reset();
    // Act
    const { delivery, result } = await report(await fixture(), (p) => ({
      ...p,
      week_start: 'last monday',
    }));
    // Assess
    assert.equal(hook.received.length, 0);
    assert.equal(delivery.status, 'error');
    assert.equal(delivery.error_code, 'schema_validation_failed');
    assert.ok(delivery.validation_errors.some((e) => e.path === 'week_start'));
    assert.equal(result.quality, 'DEGRADED');
  });
});
