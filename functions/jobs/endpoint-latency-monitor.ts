import {
  EndpointLatencyMonitorParams,
  LatencyAlertPayload,
  LatencyMonitorState,
  type Diagnostic,
  type JobOutput,
  type NotificationRecord,
  type Stage,
  type WebhookDelivery,
} from '../../contracts';
import type { Clock } from '../core/clock';
import { canonicalJson, sha256Hex } from '../core/hashing';
import { utcDays } from '../core/evidence-tables';
import { evidencePrefix } from '../core/ids';
import {
  advanceStreak,
  type BreachStreak,
  type HourlyRollup,
  type LatencySample,
  noStreak,
  rollUpHourly,
  sampleFailed,
} from '../core/latency';
import { runStamp } from '../core/layout';
import type { Notify } from '../core/notifications';
import type { Redactor } from '../core/redaction';
import type { EvidenceReader } from '../core/ports';
import { deliverWebhook, type WebhookPorts } from '../core/webhook-delivery';
import type { SecretReader } from './kinds/ports';
import type { JobContext, JobImplementation, JobResult } from './types';

/** How far back a run looks for the previous run's state and the samples of unrolled hours. */
const LOOKBACK_HOURS = 6;
/** How long an alert whose delivery failed is retried by the next runs. */
const PENDING_ALERT_HOURS = 24;
const HOUR_MS = 3_600_000;

export type Endpoint = EndpointLatencyMonitorParams['endpoints'][number];

/** One request to one endpoint, as a sample (docs/latency-slo.md#samples). Never throws. */
export type Probe = (
  endpoint: Endpoint,
  headers: Record<string, string>,
) => Promise<{ latencyMs: number; status: number | null }>;

export const fetchProbe: Probe = async (endpoint, headers) => {
  const started = performance.now();
  try {
    const response = await fetch(endpoint.url, {
      method: endpoint.method,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(endpoint.timeoutMs),
    });
    // Drained, never kept: an answer may echo a credential.
    await response.arrayBuffer();
    return { latencyMs: Math.round(performance.now() - started), status: response.status };
  } catch (error) {
    const timedOut = (error as Error).name === 'TimeoutError';
    return {
      latencyMs: timedOut ? endpoint.timeoutMs : Math.round(performance.now() - started),
      status: null,
    };
  }
};

export interface LatencyMonitorInput {
  stage: Stage;
  jobId: string;
  jobRunId: string;
  window: { start: string; end: string };
  params: EndpointLatencyMonitorParams;
}

export interface LatencyMonitorPorts {
  clock: Clock;
  /** Earlier runs' samples and state (this job's own evidence). */
  evidence: EvidenceReader;
  secrets: SecretReader;
  webhooks: Omit<WebhookPorts, 'clock'>;
  probe: Probe;
  /** opsrail's notification chain (docs/notifications.md), besides the signed webhook. */
  notify: Notify;
  /** The stage's redactor (policy `redaction`): what a notification says is redacted with it. */
  redactor: Redactor;
  log: (message: string, details?: Record<string, unknown>) => void;
}

const hourStart = (ms: number): number => Math.floor(ms / HOUR_MS) * HOUR_MS;
const stampOf = (key: string): string | undefined => /\/(run=[0-9TZ]+)[./]/.exec(key)?.[1];
const decode = (bytes: Uint8Array | undefined): string =>
  bytes ? new TextDecoder().decode(bytes) : '';
const jsonLines = (text: string): unknown[] =>
  text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as unknown);
const rows = (items: readonly unknown[]): string =>
  items.length ? `${items.map((i) => canonicalJson(i)).join('\n')}\n` : '';

/** Keys of one folder of this job's evidence, for the UTC days the range touches. */
async function keysIn(
  evidence: EvidenceReader,
  input: LatencyMonitorInput,
  folder: string,
  fromMs: number,
  toMs: number,
): Promise<string[]> {
  const keys: string[] = [];
  // The range includes toMs itself: the day it starts, when it is a midnight.
  for (const day of utcDays(fromMs, toMs + 1))
    keys.push(
      ...(await evidence.list(`${evidencePrefix(input.stage, input.jobId, day)}${folder}/`)),
    );
  return keys;
}

/**
 * The state the latest earlier run left (its `latency_state.json` output), within the lookback:
 * the streaks, heartbeats and alerts still to deliver. Never this run's own: a re-run or a takeover
 * of the same window starts from the same state, so it counts nothing twice.
 */
async function previousState(
  evidence: EvidenceReader,
  input: LatencyMonitorInput,
): Promise<LatencyMonitorState | undefined> {
  const own = runStamp(input.window.start);
  const start = Date.parse(input.window.start);
  const keys = (await keysIn(evidence, input, 'outputs', start - LOOKBACK_HOURS * HOUR_MS, start))
    .filter((k) => k.endsWith('/latency_state.json'))
    .filter((k) => (stampOf(k) ?? own) < own)
    .sort((a, b) => ((stampOf(a) ?? '') < (stampOf(b) ?? '') ? -1 : 1));
  const latest = keys.at(-1);
  if (!latest) return undefined;
  return LatencyMonitorState.parse(JSON.parse(decode(await evidence.getObject(latest))));
}

/** Samples earlier runs recorded for the hours [fromMs, toMs). */
async function earlierSamples(
  evidence: EvidenceReader,
  input: LatencyMonitorInput,
  fromMs: number,
  toMs: number,
): Promise<LatencySample[]> {
  const own = runStamp(input.window.start);
  const samples: LatencySample[] = [];
  for (const key of await keysIn(evidence, input, 'latency_samples', fromMs, toMs)) {
    if (stampOf(key) === own) continue;
    for (const row of jsonLines(decode(await evidence.getObject(key))) as SampleRow[]) {
      const at = Date.parse(row.at);
      if (at >= fromMs && at < toMs)
        samples.push({
          at: row.at,
          endpoint: row.endpoint,
          latencyMs: row.latency_ms,
          status: row.status,
        });
    }
  }
  return samples;
}

interface SampleRow {
  at: string;
  endpoint: string;
  latency_ms: number;
  status: number | null;
  jobRunId: string;
}

export function alertPayload(
  alert: { endpoint: string; level: 'warning' | 'critical'; at: string; streak: number },
  rollup: HourlyRollup | undefined,
  thresholdMs: number,
  jobRunId: string,
): LatencyAlertPayload {
  const fields = {
    schema_version: 1 as const,
    kind: 'latency_alert' as const,
    endpoint: alert.endpoint,
    level: alert.level,
    at: alert.at,
    streak: alert.streak,
    p95_ms: rollup?.p95Ms ?? null,
    threshold_ms: thresholdMs,
    job_run_id: jobRunId,
  };
  return { ...fields, payload_checksum_sha256: sha256Hex(canonicalJson(fields)) };
}

/**
 * The alert as a notification (docs/latency-slo.md#alerts): keyed per endpoint, level and hour, so
 * a re-run, a retry or a takeover never alerts twice; the body is Markdown, redacted with the stage's
 * redactor (policy `redaction`).
 */
export function alertNotification(payload: LatencyAlertPayload, redactor: Redactor) {
  const hour = payload.at.slice(0, 13);
  return {
    kind: 'latency_alert' as const,
    dedupeKey: `latency_alert/${payload.endpoint}/${payload.level}/${hour}`,
    title: redactor.text(`Latency ${payload.level}: ${payload.endpoint}`),
    markdown: redactor.text(
      [
        `**${payload.level}** latency alert for \`${payload.endpoint}\``,
        '',
        `- hour: ${payload.at}`,
        `- breaching hours in a row: ${payload.streak}`,
        `- p95: ${payload.p95_ms === null ? 'failed' : `${payload.p95_ms} ms`} (threshold ${payload.threshold_ms} ms)`,
        `- run: ${payload.job_run_id}`,
      ].join('\n'),
    ),
  };
}

export interface LatencyMonitorResult {
  samples: LatencySample[];
  rollups: (HourlyRollup & { thresholdMs: number })[];
  alerts: {
    payload: LatencyAlertPayload;
    delivery: WebhookDelivery | null;
    notification: NotificationRecord;
  }[];
  state: LatencyMonitorState;
  result: JobResult;
}

/**
 * One run of the monitor (docs/latency-slo.md#the-endpoint_latency_monitor-job): a sample of each
 * endpoint, the roll-up of every hour completed by the end of this run's window and not yet rolled
 * up, the streaks advanced by those hours, an alert delivered for each rise, and the state the next
 * run starts from.
 */
export async function monitorLatency(
  input: LatencyMonitorInput,
  ports: LatencyMonitorPorts,
): Promise<LatencyMonitorResult> {
  const { params } = input;
  const thresholdOf = (name: string) =>
    params.endpoints.find((e) => e.name === name)?.p95ThresholdMs ?? Number.POSITIVE_INFINITY;
  const previous = await previousState(ports.evidence, input);

  // 1. One sample per endpoint, attributed to the run's window start (docs/latency-slo.md#samples).
  const samples: LatencySample[] = [];
  for (const endpoint of params.endpoints) {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(endpoint.headers))
      headers[name] = await ports.secrets.read(value.secret_ref);
    const answer = await ports.probe(endpoint, headers);
    samples.push({
      at: new Date(input.window.start).toISOString(),
      endpoint: endpoint.name,
      ...answer,
    });
  }

  // 2. The hours completed by the window's end that no earlier run rolled up, within the lookback.
  const end = Date.parse(input.window.end);
  const lastComplete = hourStart(end) - HOUR_MS; // the last hour that ends at or before `end`
  const rolledUpTo = previous?.rolledUpTo ? Date.parse(previous.rolledUpTo) : undefined;
  const first = Math.max(
    rolledUpTo === undefined ? lastComplete : rolledUpTo + HOUR_MS,
    lastComplete - (LOOKBACK_HOURS - 1) * HOUR_MS,
    // Without a previous state, only the hours this run's own window touches.
    rolledUpTo === undefined ? hourStart(Date.parse(input.window.start)) : Number.NEGATIVE_INFINITY,
  );
  const hourSamples =
    first <= lastComplete
      ? [
          ...(await earlierSamples(ports.evidence, input, first, lastComplete + HOUR_MS)),
          ...samples.filter((s) => {
            const at = Date.parse(s.at);
            return at >= first && at < lastComplete + HOUR_MS;
          }),
        ]
      : [];
  const rollups = rollUpHourly(hourSamples, thresholdOf).map((r) => ({
    ...r,
    thresholdMs: thresholdOf(r.endpoint),
  }));

  // 3. Streaks, hour by hour; an alert for each rise.
  const streaks = new Map<string, BreachStreak>(
    params.endpoints.map((e) => [
      e.name,
      previous?.monitors.find((m) => m.endpoint === e.name)?.streak ?? noStreak(e.name),
    ]),
  );
  const raised: { payload: LatencyAlertPayload }[] = [];
  for (const rollup of rollups) {
    const before = streaks.get(rollup.endpoint);
    if (!before) continue;
    const { streak, alert } = advanceStreak(before, rollup, params);
    streaks.set(rollup.endpoint, streak);
    if (alert)
      raised.push({
        payload: alertPayload(alert, rollup, rollup.thresholdMs, input.jobRunId),
      });
  }

  // 4. Deliveries: the alerts still pending from earlier runs first, then this run's.
  // Expiry from the pinned window, not the wall clock: a re-run decides as the first run did.
  const retried = (previous?.pending ?? []).filter(
    (p) =>
      end - Date.parse(p.at) <= PENDING_ALERT_HOURS * HOUR_MS &&
      !raised.some((r) => r.payload.payload_checksum_sha256 === p.payload_checksum_sha256),
  );
  const alerts: LatencyMonitorResult['alerts'] = [];
  let signingKey: string | undefined;
  for (const payload of [...retried, ...raised.map((r) => r.payload)]) {
    const notification = await ports.notify(alertNotification(payload, ports.redactor));
    if (!params.webhook) {
      alerts.push({ payload, delivery: null, notification });
      continue;
    }
    signingKey ??= await ports.secrets.read(params.webhook.signingKey.secret_ref);
    const delivery = await deliverWebhook(
      { url: params.webhook.url, payload, contract: LatencyAlertPayload, signingKey },
      params.webhook.delivery,
      { ...ports.webhooks, clock: ports.clock },
    );
    alerts.push({ payload, delivery, notification });
  }
  const notifyDegraded = alerts.filter((a) => a.notification.degraded);
  const failed = alerts.filter(
    (a) => a.delivery && (a.delivery.status === 'auth_failed' || a.delivery.status === 'error'),
  );

  // 5. The state the next run starts from, and each monitor's heartbeat.
  const newest = rollups.at(-1)?.hour;
  const state: LatencyMonitorState = {
    schema_version: 1,
    jobRunId: input.jobRunId,
    rolledUpTo: newest ?? previous?.rolledUpTo ?? null,
    monitors: params.endpoints.map((e) => {
      const before = previous?.monitors.find((m) => m.endpoint === e.name);
      const ok = samples.filter((s) => s.endpoint === e.name && !sampleFailed(s)).at(-1);
      const streak = streaks.get(e.name) ?? noStreak(e.name);
      return {
        endpoint: e.name,
        streak,
        lastSuccessAt: ok?.at ?? before?.lastSuccessAt ?? null,
        lastBreachAt: streak.lastBreachAt,
        pendingAlerts: failed.filter((a) => a.payload.endpoint === e.name).length,
      };
    }),
    pending: failed.map((a) => a.payload),
  };

  const outputs: JobOutput[] = [
    {
      name: 'latency_samples.jsonl',
      contentType: 'application/x-ndjson',
      table: 'latency_samples',
      body: rows(
        samples.map((s) => ({
          at: s.at,
          endpoint: s.endpoint,
          latency_ms: s.latencyMs,
          status: s.status,
          jobRunId: input.jobRunId,
        })),
      ),
    },
  ];
  if (rollups.length)
    outputs.push({
      name: 'latency_rollups.jsonl',
      contentType: 'application/x-ndjson',
      table: 'latency_rollups',
      body: rows(
        rollups.map((r) => ({
          hour: r.hour,
          endpoint: r.endpoint,
          count: r.count,
          failures: r.failures,
          p50_ms: r.p50Ms,
          p95_ms: r.p95Ms,
          threshold_ms: r.thresholdMs,
          breach: r.breach,
          jobRunId: input.jobRunId,
        })),
      ),
    });
  if (alerts.length) {
    outputs.push({
      name: 'latency_alerts.jsonl',
      contentType: 'application/x-ndjson',
      table: 'latency_alerts',
      body: rows(
        alerts.map((a) => ({
          at: a.payload.at,
          endpoint: a.payload.endpoint,
          level: a.payload.level,
          streak: a.payload.streak,
          delivery_status: a.delivery?.status ?? 'not_configured',
          notification_via: a.notification.delivered_via,
          notification_degraded: a.notification.degraded,
          payload_checksum_sha256: a.payload.payload_checksum_sha256,
          jobRunId: input.jobRunId,
        })),
      ),
    });
    outputs.push({
      name: 'alerts.json',
      contentType: 'application/json',
      body: `${canonicalJson(alerts)}\n`,
    });
  }
  outputs.push({
    name: 'latency_state.json',
    contentType: 'application/json',
    body: `${canonicalJson(state)}\n`,
  });

  const diagnostics: Diagnostic[] = [
    { level: 'info', code: 'samples', message: String(samples.length) },
    {
      level: 'info',
      code: 'hours_rolled_up',
      message: String(new Set(rollups.map((r) => r.hour)).size),
    },
    { level: 'info', code: 'alerts', message: String(alerts.length) },
    ...failed.map(
      (a): Diagnostic => ({
        level: 'warning',
        code: `alert_${a.delivery?.status}`,
        message: `${a.payload.level} alert for ${a.payload.endpoint} at ${a.payload.at} was not delivered (${a.delivery?.error_code}); the next run retries it`,
      }),
    ),
    ...notifyDegraded.map(
      (a): Diagnostic => ({
        level: 'warning',
        code: 'alert_notification_degraded',
        message: `${a.payload.level} alert for ${a.payload.endpoint} at ${a.payload.at} got no further than ${a.notification.delivered_via ?? 'no channel'}`,
      }),
    ),
  ];
  ports.log('latency monitor run', {
    samples: samples.length,
    rollups: rollups.length,
    alerts: alerts.length,
    undelivered: failed.length,
  });
  return {
    samples,
    rollups,
    alerts,
    state,
    result: {
      quality: failed.length || notifyDegraded.length ? 'DEGRADED' : 'OK',
      outputs,
      integrityReport: null,
      diagnostics,
    },
  };
}

async function run(context: JobContext): Promise<JobResult> {
  const params = EndpointLatencyMonitorParams.parse({
    ...context.job.params,
    ...context.run.params,
  });
  const { result } = await monitorLatency(
    {
      stage: context.run.stage,
      jobId: context.job.jobId,
      jobRunId: context.run.jobRunId,
      window: context.run.window,
      params,
    },
    {
      clock: context.clock,
      evidence: context.evidence,
      secrets: context.secrets,
      webhooks: context.webhooks,
      probe: fetchProbe,
      notify: context.notify,
      // The stage's redactor, built once per cold start with the dependencies.
      redactor: context.control.redactor,
      log: context.log,
    },
  );
  return result;
}

export const endpointLatencyMonitor: JobImplementation = {
  jobId: 'endpoint_latency_monitor',
  params: EndpointLatencyMonitorParams,
  run,
};
