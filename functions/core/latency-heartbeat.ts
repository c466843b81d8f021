import {
  EndpointLatencyMonitorParams,
  type JobDefinition,
  LatencyMonitorState,
  type Stage,
} from '../../contracts';
import { evidencePrefix } from './ids';
import type { ChainLink, EvidenceReader } from './ports';

/** The built-in latency monitor: its runs leave each endpoint's heartbeat in latency_state.json. */
export const LATENCY_MONITOR_JOB_ID = 'endpoint_latency_monitor';

/** One endpoint's heartbeat (docs/latency-slo.md#the-heartbeat). */
export interface MonitorHeartbeat {
  endpoint: string;
  /** The last sample that answered 2xx/3xx. */
  lastSuccessAt: string | null;
  /** The last breaching hour (its start). */
  lastBreachAt: string | null;
  /** Alerts whose delivery failed, retried by the next runs. */
  pendingAlerts: number;
  /** The breach streak's level and length. */
  level: 'warning' | 'critical' | null;
  streak: number;
}

/** A latency monitor job's heartbeats: one per configured endpoint, from the latest state. */
export interface MonitorHeartbeats {
  /** The run whose latency_state.json they come from; null when no run left one yet. */
  jobRunId: string | null;
  stateKey: string | null;
  endpoints: MonitorHeartbeat[];
}

const DAY_MS = 86_400_000;
const HEAD = /^(.*\/)manifest\/(run=[0-9TZ]+)\.json$/;
const STATE = /\/outputs\/(run=[0-9TZ]+)\/latency_state\.json$/;

/**
 * The monitor's state as the latest run left it (docs/latency-slo.md#the-heartbeat): the
 * `latency_state.json` of the run at the head of the job's evidence chain or, when that run left
 * none (it failed, or its bundle is still being written), the newest one of that run's UTC day and
 * the day before.
 */
export async function latestMonitorState(
  evidence: EvidenceReader,
  stage: Stage,
  jobId: string,
  head: Pick<ChainLink, 'manifestKey'> | undefined,
): Promise<{ key: string; state: LatencyMonitorState } | undefined> {
  const match = head && HEAD.exec(head.manifestKey);
  if (!match) return undefined;
  const [, prefix, stamp] = match as unknown as [string, string, string];
  const read = async (key: string) => {
    const bytes = await evidence.getObject(key);
    if (!bytes) return undefined;
    // An unreadable state is not a heartbeat (verify reports what is wrong with the bundle).
    let parsed: ReturnType<typeof LatencyMonitorState.safeParse>;
    try {
      parsed = LatencyMonitorState.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
    } catch {
      return undefined;
    }
    return parsed.success ? { key, state: parsed.data } : undefined;
  };
  const own = await read(`${prefix}outputs/${stamp}/latency_state.json`);
  if (own) return own;
  const day = Date.parse(/dt=(\d{4}-\d{2}-\d{2})\//.exec(prefix)?.[1] ?? '');
  if (Number.isNaN(day)) return undefined;
  const keys: string[] = [];
  for (const d of [day - DAY_MS, day])
    keys.push(...(await evidence.list(`${evidencePrefix(stage, jobId, new Date(d))}outputs/`)));
  const newest = keys
    .filter((k) => STATE.test(k))
    .sort((a, b) => (STATE.exec(a)![1]! < STATE.exec(b)![1]! ? -1 : 1))
    .at(-1);
  return newest ? read(newest) : undefined;
}

/**
 * Each endpoint the job's params configure, with its heartbeat from the latest state; an endpoint
 * no run has sampled yet has none (nulls, 0).
 */
export async function monitorHeartbeats(
  evidence: EvidenceReader,
  stage: Stage,
  job: Pick<JobDefinition, 'jobId' | 'params'>,
  head: Pick<ChainLink, 'manifestKey'> | undefined,
): Promise<MonitorHeartbeats> {
  const latest = await latestMonitorState(evidence, stage, job.jobId, head);
  const params = EndpointLatencyMonitorParams.safeParse(job.params);
  const configured = params.success
    ? params.data.endpoints.map((e) => e.name)
    : (latest?.state.monitors.map((m) => m.endpoint) ?? []);
  return {
    jobRunId: latest?.state.jobRunId ?? null,
    stateKey: latest?.key ?? null,
    endpoints: configured.map((endpoint) => {
      const m = latest?.state.monitors.find((x) => x.endpoint === endpoint);
      return {
        endpoint,
        lastSuccessAt: m?.lastSuccessAt ?? null,
        lastBreachAt: m?.lastBreachAt ?? null,
        pendingAlerts: m?.pendingAlerts ?? 0,
        level: m?.streak.level ?? null,
        streak: m?.streak.streak ?? 0,
      };
    }),
  };
}
