import {
  type Diagnostic,
  type Stage,
  type WebhookDelivery,
  WeeklyHealthPayload,
  WeeklyHealthReportParams,
} from '../../contracts';
import type { Clock } from '../core/clock';
import { canonicalJson, sha256Hex } from '../core/hashing';
import { evidenceTableRows } from '../core/evidence-tables';
import { nearestRank } from '../core/latency';
import type { EvidenceReader, RunItem, RunQuery } from '../core/ports';
import { deliverWebhook, type WebhookPorts } from '../core/webhook-delivery';
import { addDays, isoWeekStart, startOfDay, wallTimeAt } from '../core/zoned';
import type { SecretReader } from './kinds/ports';
import type { JobContext, JobImplementation, JobResult } from './types';

/** Monday 00:00 of the ISO week before the one `at` falls in, in `zone`, as a UTC instant. */
export function previousIsoWeek(at: Date, zone: string): { start: Date; end: Date } {
  const monday = isoWeekStart(wallTimeAt(at.getTime(), zone));
  return {
    start: new Date(startOfDay(addDays(monday, -7), zone)),
    end: new Date(startOfDay(monday, zone)),
  };
}

export interface WeeklyReportInput {
  stage: Stage;
  /** The job's schedule time (the tick): the report covers the ISO week before it. */
  scheduledTime: string;
  timezone: string;
  params: WeeklyHealthReportParams;
}

export interface WeeklyReportPorts {
  clock: Clock;
  evidence: EvidenceReader;
  runs: { listRuns(query: RunQuery): Promise<RunItem[]> };
  secrets: SecretReader;
  webhooks: Omit<WebhookPorts, 'clock'>;
}

interface RollupRow {
  hour: string;
  endpoint: string;
  count: number;
  p50_ms: number | null;
  p95_ms: number | null;
  breach: boolean;
}
interface AlertRow {
  at: string;
  endpoint: string;
  level: 'warning' | 'critical';
  streak: number;
}

const within = (iso: string, from: Date, to: Date) => {
  const t = Date.parse(iso);
  return t >= from.getTime() && t < to.getTime();
};

/** Nearest rank over values where null ranks slower than any (docs/latency-slo.md). */
const rankNullable = (values: (number | null)[], p: number): number | null => {
  const ranked = values.map((v) => v ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
  const v = nearestRank(ranked, p);
  return v === undefined || !Number.isFinite(v) ? null : v;
};

/**
 * The week's payload (docs/webhooks.md#the-weekly-health-payload), from the latency monitor's
 * roll-ups and alerts in the evidence and the stage's run records. Pure over its ports.
 */
export async function buildWeeklyPayload(
  input: WeeklyReportInput,
  ports: Pick<WeeklyReportPorts, 'clock' | 'evidence' | 'runs'>,
): Promise<WeeklyHealthPayload> {
  const week = previousIsoWeek(new Date(input.scheduledTime), input.timezone);
  const jobId = input.params.latencyJobId;
  const seen = new Set<string>();
  // One roll-up per endpoint and hour (a takeover writes the same rows under the same run).
  const rollups = (
    await evidenceTableRows<RollupRow>(
      ports.evidence,
      input.stage,
      jobId,
      'latency_rollups',
      week.start,
      week.end,
    )
  ).filter((r) => {
    const key = `${r.endpoint}\u0000${r.hour}`;
    if (!within(r.hour, week.start, week.end) || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const endpoints = [...new Set(rollups.map((r) => r.endpoint))].sort();
  const latency = endpoints.map((endpoint) => {
    const mine = rollups.filter((r) => r.endpoint === endpoint);
    return {
      endpoint,
      p50_ms: rankNullable(
        mine.map((r) => r.p50_ms),
        0.5,
      ),
      p95_ms: rankNullable(
        mine.map((r) => r.p95_ms),
        0.95,
      ),
      samples: mine.reduce((n, r) => n + r.count, 0),
      breaches: mine.filter((r) => r.breach).length,
    };
  });
  const alertSeen = new Set<string>();
  const alerts = (
    await evidenceTableRows<AlertRow>(
      ports.evidence,
      input.stage,
      jobId,
      'latency_alerts',
      week.start,
      week.end,
    )
  )
    .filter((a) => {
      const key = `${a.endpoint}\u0000${a.level}\u0000${a.at}`;
      if (!within(a.at, week.start, week.end) || alertSeen.has(key)) return false;
      alertSeen.add(key);
      return true;
    })
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.endpoint < b.endpoint ? -1 : 1))
    .map((a) => ({ endpoint: a.endpoint, level: a.level, at: a.at, streak: a.streak }));
  const finalized = (await ports.runs.listRuns({ since: week.start.toISOString() })).filter(
    (r) => r.phase === 'finalized' && within(r.scheduledTime, week.start, week.end),
  );
  const statusOf = (r: RunItem) => r.summary?.status ?? r.sealed?.status;
  const succeeded = finalized.filter((r) => ['ok', 'dry_run'].includes(statusOf(r) ?? '')).length;
  const failed = finalized.filter((r) => statusOf(r) === 'error').length;
  const fields = {
    schema_version: 1 as const,
    generated_at: ports.clock.now().toISOString(),
    week_start: week.start.toISOString(),
    latency,
    runs: {
      total: finalized.length,
      succeeded,
      failed,
      success_rate: finalized.length ? succeeded / finalized.length : null,
    },
    alerts,
  };
  return { ...fields, payload_checksum_sha256: sha256Hex(canonicalJson(fields)) };
}

/**
 * One weekly report: built, delivered (validated, signed, retried), and both kept in the run's
 * evidence. A delivery that ends auth_failed or error makes the run DEGRADED, with the reason.
 */
export async function reportWeeklyHealth(
  input: WeeklyReportInput,
  ports: WeeklyReportPorts,
  /** For tests: replaces the built payload (an invalid one is never sent). */
  override?: (payload: WeeklyHealthPayload) => unknown,
): Promise<{ payload: unknown; delivery: WebhookDelivery; result: JobResult }> {
  const built = await buildWeeklyPayload(input, ports);
  const payload = override ? override(built) : built;
  const { webhook } = input.params;
  const delivery = await deliverWebhook(
    {
      url: webhook.url,
      payload,
      contract: WeeklyHealthPayload,
      signingKey: await ports.secrets.read(webhook.signingKey.secret_ref),
    },
    webhook.delivery,
    { ...ports.webhooks, clock: ports.clock },
  );
  const bad = delivery.status === 'auth_failed' || delivery.status === 'error';
  const diagnostics: Diagnostic[] = [
    { level: 'info', code: 'delivery_status', message: delivery.status },
    { level: 'info', code: 'attempts', message: String(delivery.attempts.length) },
  ];
  if (bad)
    diagnostics.push({
      level: 'error',
      code: `delivery_${delivery.status}`,
      message: `the weekly health report was not delivered to ${webhook.url}: ${delivery.error_code}${delivery.status_code === null ? '' : ` (HTTP ${delivery.status_code})`}`,
    });
  return {
    payload,
    delivery,
    result: {
      quality: bad ? 'DEGRADED' : 'OK',
      outputs: [
        {
          name: 'weekly_health_payload.json',
          contentType: 'application/json',
          body: `${canonicalJson(payload)}\n`,
        },
        {
          name: 'webhook_delivery.json',
          contentType: 'application/json',
          body: `${canonicalJson(delivery)}\n`,
        },
      ],
      integrityReport: null,
      diagnostics,
    },
  };
}

async function run(context: JobContext): Promise<JobResult> {
  const params = WeeklyHealthReportParams.parse({ ...context.job.params, ...context.run.params });
  const { result } = await reportWeeklyHealth(
    {
      stage: context.run.stage,
      scheduledTime: context.run.scheduledTime,
      timezone: context.job.schedule.timezone,
      params,
    },
    {
      clock: context.clock,
      evidence: context.evidence,
      runs: context.state,
      secrets: context.secrets,
      webhooks: context.webhooks,
    },
  );
  return result;
}

export const weeklyHealthReport: JobImplementation = {
  jobId: 'weekly_health_report',
  params: WeeklyHealthReportParams,
  run,
};
