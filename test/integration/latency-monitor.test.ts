import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  EndpointLatencyMonitorParams,
  LatencyAlertPayload,
  LatencyMonitorState,
  WebhookDelivery,
} from '../../contracts';
import { fetchWebhookPoster } from '../../functions/adapters/webhook-poster';
import { MemoryEvidenceStore } from '../../functions/adapters/memory-evidence-store';
import { canonicalJson, sha256Hex } from '../../functions/core/hashing';
import { evidencePrefix } from '../../functions/core/ids';
import { outputName } from '../../functions/core/layout';
import { createRedactor } from '../../functions/core/redaction';
import { fetchProbe, monitorLatency } from '../../functions/jobs/endpoint-latency-monitor';
import type { Notification } from '../../functions/core/notifications';
import { FakeEndpoint, FakeWebhook } from '../support/fake-http';

const KEY = 'whsec-latency-test-key';
const KEY_REF = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:latency-hook-AbCdEf';
const TOKEN_REF = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:api-token-AbCdEf';
const CANARY = 'CANARY-latency-header-7f3a9c1e';
const JOB = 'endpoint_latency_monitor';

const fast = { delayMs: 0, status: 200 };
const slow = { delayMs: 250, status: 200 };
const down = { delayMs: 0, status: 503 };

/**
 * The monitor's logic over an in-memory bucket, each run's outputs then stored where Finalize puts
 * them, so the next run reads them as it would in AWS.
 */
class Monitor {
  readonly evidence = new MemoryEvidenceStore();
  readonly logged: unknown[] = [];
  readonly notified: Notification[] = [];
  degradedNotify = false;
  constructor(
    private readonly params: EndpointLatencyMonitorParams,
    private readonly secrets: Record<string, string>,
  ) {}

  async run(windowStart: string, minutes = 60, options: { store?: boolean } = {}) {
    const start = new Date(windowStart);
    const window = {
      start: windowStart,
      end: new Date(start.getTime() + minutes * 60_000).toISOString().replace('.000Z', 'Z'),
    };
    const out = await monitorLatency(
      {
        stage: 'local',
        jobId: JOB,
        jobRunId: `${JOB}/${windowStart}`,
        window,
        params: this.params,
      },
      {
        clock: { now: () => new Date() },
        evidence: this.evidence,
        secrets: {
          read: async (ref) => {
            const value = this.secrets[ref];
            if (value === undefined) throw new Error(`no secret ${ref}`);
            return value;
          },
        },
        webhooks: { http: fetchWebhookPoster, sleep: async () => undefined, random: () => 0 },
        probe: fetchProbe,
        notify: async (n) => {
          this.notified.push(n);
          return {
            schema_version: 1,
            kind: n.kind,
            dedupe_key: n.dedupeKey,
            title: n.title,
            delivered_via: 'log',
            degraded: this.degradedNotify,
            attempts: [],
          };
        },
        redactor: createRedactor({ placeholder: '[REDACTED]', patterns: [] }),
        log: (message, details) => this.logged.push({ message, details }),
      },
    );
    if (options.store !== false)
      for (const o of out.result.outputs)
        await this.evidence.putObject(
          `${evidencePrefix('local', JOB, start)}${outputName(windowStart, o.name, o.table)}`,
          new TextEncoder().encode(o.body),
          o.contentType,
        );
    return out;
  }

  async everything(): Promise<string> {
    const texts: string[] = [];
    for (const key of await this.evidence.list(''))
      texts.push(key, new TextDecoder().decode(await this.evidence.getObject(key)));
    return texts.join('\n');
  }
}

const lines = (body: string | undefined) =>
  (body ?? '')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const output = (out: Awaited<ReturnType<Monitor['run']>>, name: string) =>
  out.result.outputs.find((o) => o.name === name)?.body;

describe('endpoint_latency_monitor against a fake endpoint and a fake webhook', () => {
  const endpoint = new FakeEndpoint();
  const hook = new FakeWebhook(KEY);
  beforeAll(async () => {
    await endpoint.start();
    await hook.start();
  });
  afterAll(async () => {
    await endpoint.stop();
    await hook.stop();
  });

  const params = (overrides: Record<string, unknown> = {}) =>
    EndpointLatencyMonitorParams.parse({
      endpoints: [
        {
          name: 'api',
          url: `${endpoint.base}/api`,
          timeoutMs: 2000,
          p95ThresholdMs: 150,
          headers: { Authorization: { secret_ref: TOKEN_REF } },
        },
        { name: 'down', url: `${endpoint.base}/down`, timeoutMs: 2000, p95ThresholdMs: 150 },
      ],
      webhook: {
        url: hook.url,
        signingKey: { secret_ref: KEY_REF },
        delivery: { baseDelayMs: 1, maxDelayMs: 5 },
      },
      ...overrides,
    });
  const secrets = { [KEY_REF]: KEY, [TOKEN_REF]: `Bearer ${CANARY}` };

  test('samples of four 15-minute runs roll up into their hour at the run that completes it', async () => {
    // Prepare
    endpoint.scripts = { '/api': [fast, fast, fast, slow], '/down': [down] };
    hook.reset();
    const monitor = new Monitor(params(), secrets);
    // Act
    const runs: Awaited<ReturnType<Monitor['run']>>[] = [];
    for (const start of [
      '2026-02-01T10:00:00Z',
      '2026-02-01T10:15:00Z',
      '2026-02-01T10:30:00Z',
      '2026-02-01T10:45:00Z',
    ])
      runs.push(await monitor.run(start, 15));
    // Assess
    const samples = lines(output(runs[0]!, 'latency_samples.jsonl'));
    assert.deepEqual(
      samples.map((s) => [s.at, s.endpoint, s.status]),
      [
        ['2026-02-01T10:00:00.000Z', 'api', 200],
        ['2026-02-01T10:00:00.000Z', 'down', 503],
      ],
    );
    assert.ok(samples.every((s) => Number.isInteger(s.latency_ms) && s.latency_ms >= 0));
    assert.deepEqual(
      runs.map((r) => output(r, 'latency_rollups.jsonl') === undefined),
      [true, true, true, false],
      'only the run whose window ends the hour rolls it up',
    );
    const [api, downHour] = lines(output(runs[3]!, 'latency_rollups.jsonl'));
    assert.deepEqual(
      [api.hour, api.endpoint, api.count, api.failures, api.breach, api.threshold_ms],
      ['2026-02-01T10:00:00.000Z', 'api', 4, 0, true, 150],
    );
    // Nearest rank over 4 samples: p50 is the 2nd (fast), p95 the 4th (the slow one).
    assert.ok(api.p50_ms < 150, `p50 ${api.p50_ms}`);
    assert.ok(api.p95_ms >= 250, `p95 ${api.p95_ms}`);
    assert.deepEqual(
      [downHour.endpoint, downHour.count, downHour.failures, downHour.p95_ms, downHour.breach],
      ['down', 4, 4, null, true],
    );
    const state = LatencyMonitorState.parse(JSON.parse(output(runs[3]!, 'latency_state.json')!));
    assert.equal(state.rolledUpTo, '2026-02-01T10:00:00.000Z');
    assert.deepEqual(
      state.monitors.map((m) => [m.endpoint, m.streak.streak, m.lastSuccessAt, m.lastBreachAt]),
      [
        ['api', 1, '2026-02-01T10:45:00.000Z', '2026-02-01T10:00:00.000Z'],
        ['down', 1, null, '2026-02-01T10:00:00.000Z'],
      ],
    );
  });

  test('hour by hour the streak goes none → warning → critical with one alert per rise; a good hour resets it; a re-run counts nothing twice', async () => {
    // Prepare: api slow for four hours, fast for one, slow again; only api is monitored.
    endpoint.scripts = { '/api': [slow, slow, slow, slow, fast, slow, slow] };
    hook.reset();
    const only = params();
    only.endpoints = only.endpoints.slice(0, 1);
    const monitor = new Monitor(only, secrets);
    const hours = ['10', '11', '12', '13', '14', '15'].map((h) => `2026-02-01T${h}:00:00Z`);
    // Act
    const runs: Awaited<ReturnType<Monitor['run']>>[] = [];
    for (const start of hours) runs.push(await monitor.run(start));
    // Assess
    const streakOf = (r: (typeof runs)[number]) => {
      const m = r.state.monitors[0]!;
      return [m.streak.streak, m.streak.level];
    };
    assert.deepEqual(runs.map(streakOf), [
      [1, null],
      [2, 'warning'],
      [3, 'critical'],
      [4, 'critical'],
      [0, null],
      [1, null],
    ]);
    assert.deepEqual(
      runs.map((r) => r.alerts.map((a) => a.payload.level)),
      [[], ['warning'], ['critical'], [], [], []],
    );
    assert.equal(hook.received.length, 2, 'one POST per rise');
    assert.equal(hook.deliveries, 2);
    assert.ok(
      hook.received.every((r) => r.signatureValid),
      'signed as docs/webhooks.md says',
    );
    const sent = hook.received.map((r) => LatencyAlertPayload.parse(JSON.parse(r.body)));
    assert.deepEqual(
      sent.map((p) => [p.endpoint, p.level, p.at, p.streak]),
      [
        ['api', 'warning', '2026-02-01T11:00:00.000Z', 2],
        ['api', 'critical', '2026-02-01T12:00:00.000Z', 3],
      ],
    );
    const { payload_checksum_sha256, ...rest } = sent[0]!;
    assert.equal(payload_checksum_sha256, sha256Hex(canonicalJson(rest)));
    // The alert and its delivery record are in the run's evidence.
    const stored = JSON.parse(output(runs[1]!, 'alerts.json')!);
    assert.equal(stored[0].payload.level, 'warning');
    const delivery = WebhookDelivery.parse(stored[0].delivery);
    assert.equal(delivery.status, 'delivered');
    assert.equal(delivery.payload_checksum_sha256, sha256Hex(hook.received[0]!.body));
    assert.deepEqual(
      lines(output(runs[2]!, 'latency_alerts.jsonl')).map((a) => [a.level, a.delivery_status]),
      [['critical', 'delivered']],
    );

    // Act: the 13:00 window again (a re-run or a takeover), after everything else ran.
    hook.reset();
    endpoint.scripts = { '/api': [slow] };
    const again = await monitor.run(hours[3]!, 60, { store: false });
    // Assess: the same streak as the first time, not one more; nothing sent.
    assert.deepEqual(streakOf(again), [4, 'critical']);
    assert.equal(again.alerts.length, 0);
    assert.equal(hook.received.length, 0);
    // The 12:00 window again raises the same critical alert, from the same streak (3, not 4).
    const twelve = await monitor.run(hours[2]!, 60, { store: false });
    assert.deepEqual(streakOf(twelve), [3, 'critical']);
    assert.deepEqual(
      twelve.alerts.map((a) => [a.payload.level, a.payload.streak]),
      [['critical', 3]],
    );
  });

  test('dry-run: the alert payload is recorded with status dry_run and nothing is sent', async () => {
    // Prepare
    endpoint.scripts = { '/api': [slow], '/down': [down] };
    hook.reset();
    const dry = params({
      webhook: { url: hook.url, signingKey: { secret_ref: KEY_REF }, delivery: { dryRun: true } },
    });
    const monitor = new Monitor(dry, secrets);
    // Act
    await monitor.run('2026-02-01T10:00:00Z');
    const second = await monitor.run('2026-02-01T11:00:00Z');
    // Assess
    assert.deepEqual(
      second.alerts.map((a) => [a.payload.endpoint, a.payload.level, a.delivery?.status]),
      [
        ['api', 'warning', 'dry_run'],
        ['down', 'warning', 'dry_run'],
      ],
    );
    assert.equal(hook.received.length, 0, 'nothing sent');
    assert.ok(second.alerts.every((a) => a.delivery?.attempts.length === 0));
    assert.equal(second.result.quality, 'OK');
    assert.match(output(second, 'alerts.json')!, /"status":"dry_run"/);
  });

  test('a refused alert (401) makes the run DEGRADED and stays pending until a later run delivers it', async () => {
    // Prepare
    endpoint.scripts = { '/api': [slow], '/down': [fast] };
    const monitor = new Monitor(params(), secrets);
    hook.reset();
    await monitor.run('2026-02-01T10:00:00Z');
    hook.reset([{ status: 401 }]);
    // Act
    const refused = await monitor.run('2026-02-01T11:00:00Z');
    hook.reset();
    const next = await monitor.run('2026-02-01T12:00:00Z');
    // Assess
    assert.equal(refused.result.quality, 'DEGRADED');
    assert.ok(refused.result.diagnostics.some((d) => d.code === 'alert_auth_failed'));
    assert.deepEqual(
      refused.state.monitors.map((m) => [m.endpoint, m.pendingAlerts]),
      [
        ['api', 1],
        ['down', 0],
      ],
    );
    assert.deepEqual(
      next.alerts.map((a) => [a.payload.level, a.payload.at, a.delivery?.status]),
      [
        ['warning', '2026-02-01T11:00:00.000Z', 'delivered'],
        ['critical', '2026-02-01T12:00:00.000Z', 'delivered'],
      ],
    );
    assert.equal(next.result.quality, 'OK');
    assert.deepEqual(next.state.pending, []);
  });

  test('each alert also goes through notify with a dedupe key per endpoint, level and hour; a degraded record degrades the run', async () => {
    // Prepare
    endpoint.scripts = { '/api': [slow, slow] };
    hook.reset();
    const only = params({ webhook: undefined });
    only.endpoints = only.endpoints.slice(0, 1);
    const monitor = new Monitor(only, secrets);
    monitor.degradedNotify = true;
    // Act
    await monitor.run('2026-02-01T10:00:00Z');
    const second = await monitor.run('2026-02-01T11:00:00Z');
    // Assess
    assert.deepEqual(
      monitor.notified.map((n) => [n.kind, n.dedupeKey]),
      [['latency_alert', 'latency_alert/api/warning/2026-02-01T11']],
    );
    assert.match(monitor.notified[0]!.markdown, /warning/);
    assert.equal(second.alerts[0]!.notification.degraded, true);
    assert.equal(second.result.quality, 'DEGRADED');
    const alerts = JSON.parse(output(second, 'alerts.json')!);
    assert.equal(alerts[0].notification.dedupe_key, 'latency_alert/api/warning/2026-02-01T11');
  });

  test('a header secret reaches the endpoint and never the evidence, the outputs or the log', async () => {
    // Prepare
    endpoint.scripts = { '/api': [slow], '/down': [down] };
    endpoint.seenHeaders = [];
    hook.reset();
    const monitor = new Monitor(params(), secrets);
    // Act
    await monitor.run('2026-02-01T10:00:00Z');
    await monitor.run('2026-02-01T11:00:00Z');
    // Assess
    assert.ok(
      endpoint.seenHeaders.some((h) => h.authorization === `Bearer ${CANARY}`),
      'the endpoint got the header',
    );
    const everything = await monitor.everything();
    assert.match(everything, /latency_state\.json/);
    assert.ok(!everything.includes(CANARY), 'the canary is in no evidence object');
    assert.ok(!everything.includes(KEY), 'nor the signing key');
    assert.ok(!JSON.stringify(monitor.logged).includes(CANARY));
    assert.ok(!hook.received.some((r) => r.body.includes(CANARY)));
  });
});
