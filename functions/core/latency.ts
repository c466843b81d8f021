/**
 * Latency SLO arithmetic (docs/latency-slo.md): hourly roll-ups of endpoint samples and the breach
 * streak that turns consecutive bad hours into a warning, then a critical alert. Pure: the samples,
 * thresholds and previous streak come in, the roll-ups, next streak and alert go out.
 */

export interface LatencySample {
  /** When the sample was taken (UTC, ISO 8601). */
  at: string;
  endpoint: string;
  /** How long the answer took; a timeout records its timeout. */
  latencyMs: number;
  /** The HTTP status answered, or null for a timeout or a connection failure. */
  status: number | null;
}

export const sampleFailed = (s: LatencySample): boolean =>
  s.status === null || s.status < 200 || s.status >= 400;

export interface HourlyRollup {
  endpoint: string;
  /** The hour's start (UTC). */
  hour: string;
  count: number;
  failures: number;
  /** Nearest-rank percentiles; null when the rank falls on a failed sample (slower than any SLO). */
  p50Ms: number | null;
  p95Ms: number | null;
  breach: boolean;
}

/** The nearest-rank percentile of ascending values (`p` in (0, 1]). */
export function nearestRank(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

const hourOf = (at: string): string => {
  const d = new Date(at);
  d.setUTCMinutes(0, 0, 0);
  return d.toISOString();
};

/**
 * One roll-up per endpoint and UTC hour with samples, in hour then endpoint order. A failed sample
 * counts as slower than any threshold, so an endpoint that is down breaches. An hour breaches when
 * its p95 is over the endpoint's threshold (or falls on a failure).
 */
export function rollUpHourly(
  samples: readonly LatencySample[],
  p95ThresholdMs: (endpoint: string) => number,
): HourlyRollup[] {
  const groups = new Map<string, LatencySample[]>();
  for (const s of samples) {
    const key = `${hourOf(s.at)}\u0000${s.endpoint}`;
    const group = groups.get(key);
    if (group) group.push(s);
    else groups.set(key, [s]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, group]) => {
      const [hour, endpoint] = key.split('\u0000') as [string, string];
      const ranked = group
        .map((s) => (sampleFailed(s) ? Number.POSITIVE_INFINITY : s.latencyMs))
        .sort((a, b) => a - b);
      const finite = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? null : v);
      const p50Ms = finite(nearestRank(ranked, 0.5));
      const p95Ms = finite(nearestRank(ranked, 0.95));
      return {
        endpoint,
        hour,
        count: group.length,
        failures: group.filter(sampleFailed).length,
        p50Ms,
        p95Ms,
        breach: p95Ms === null || p95Ms > p95ThresholdMs(endpoint),
      };
    });
}

export type AlertLevel = 'warning' | 'critical';

export interface BreachStreak {
  endpoint: string;
  /** Consecutive breaching hours up to `lastHour`. */
  streak: number;
  level: AlertLevel | null;
  lastHour: string | null;
  lastBreachAt: string | null;
}

export interface StreakThresholds {
  /** Consecutive breaching hours that raise a warning (default 2, docs/latency-slo.md). */
  warningAfter: number;
  /** … and a critical alert (default 3). */
  criticalAfter: number;
}

export interface LatencyAlert {
  endpoint: string;
  level: AlertLevel;
  /** The hour whose breach raised it. */
  at: string;
  streak: number;
}

export const noStreak = (endpoint: string): BreachStreak => ({
  endpoint,
  streak: 0,
  level: null,
  lastHour: null,
  lastBreachAt: null,
});

/**
 * The streak after one more hour. A breach extends it, a good hour resets it; an alert goes out
 * only when the level rises (none → warning → critical), so a long outage alerts twice, not hourly.
 * An hour already counted (a re-run of the same window) changes nothing.
 */
export function advanceStreak(
  previous: BreachStreak,
  rollup: HourlyRollup,
  thresholds: StreakThresholds,
): { streak: BreachStreak; alert: LatencyAlert | null } {
  if (previous.lastHour !== null && rollup.hour <= previous.lastHour)
    return { streak: previous, alert: null };
  if (!rollup.breach)
    return {
      streak: { ...previous, streak: 0, level: null, lastHour: rollup.hour },
      alert: null,
    };
  const streak = previous.streak + 1;
  const level: AlertLevel | null =
    streak >= thresholds.criticalAfter
      ? 'critical'
      : streak >= thresholds.warningAfter
        ? 'warning'
        : null;
  const rose = level !== null && level !== previous.level;
  return {
    streak: {
      endpoint: previous.endpoint,
      streak,
      level,
      lastHour: rollup.hour,
      lastBreachAt: rollup.hour,
    },
    alert: rose ? { endpoint: previous.endpoint, level, at: rollup.hour, streak } : null,
  };
}
