import type {
  ObservabilityReport,
  ReportPeriod,
  Stage,
  SuggestionThresholds,
} from '../../../contracts';
import type { StatusReport } from '../controls';
import type { RunItem } from '../ports';
import type { Redactor } from '../redaction';
import { formatDuration } from '../run-history';
import { mdText, oneLine } from '../markdown';
import { outcomeOf, percent, previousPeriod, type SealedRun, sealedRunsIn } from './period';
import { computeKpis, type KpiRow } from '../kpis';

/**
 * The daily and weekly observability reports (docs/reports.md#the-observability-reports): pure,
 * from the stage's run records and the breakers' state to the report's JSON, and from the JSON to
 * its Markdown.
 */
export interface ObservabilityInput {
  report: ObservabilityReport['report'];
  stage: Stage;
  period: ReportPeriod;
  jobRunId: string;
  /** The report run's claim time: runs sealed later are not in it (docs/reports.md#inputs). */
  asOf: string;
  /** When the breakers were read. */
  generatedAt: string;
  /** The stage's run records since the previous period's start (at least). */
  runs: readonly RunItem[];
  /** The breakers as `opsrail status` reads them (functions/core/controls.ts). */
  status: Pick<StatusReport, 'safety' | 'killSwitches' | 'quarantined' | 'jobs'>;
  thresholds: SuggestionThresholds;
  redactor: Redactor;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A failure's reason as the report groups it: its error kind and message, on one line. */
const reasonOf = (run: SealedRun): string => {
  const error = run.sealed.error;
  return oneLine(error ? `${error.kind}: ${error.message}` : 'error: no error recorded');
};

export function buildObservabilityReport(input: ObservabilityInput): ObservabilityReport {
  const { period, thresholds: t, redactor } = input;
  const runs = sealedRunsIn(input.runs, period, input.asOf);
  const before = previousPeriod(period);
  const previous = sealedRunsIn(input.runs, before, input.asOf);
  // The KPI module's numbers (docs/observability.md#kpis): the period is one day or ISO week in its
  // zone, so each job has one row, and the stage one.
  const kpisOf = (items: SealedRun[], window: { start: string; end: string }) =>
    computeKpis(items, {
      zone: period.zone,
      granularity: period.kind,
      from: window.start,
      to: window.end,
    });
  const rows = kpisOf(runs, period);
  const stage: KpiRow | undefined = rows.find((r) => r.scope === 'stage');
  const previousRows = new Map(
    kpisOf(previous, before)
      .filter((r) => r.scope === 'job')
      .map((r) => [r.job_id, r]),
  );

  const per_job = rows
    .filter((k) => k.scope === 'job')
    .map((k) => ({
      job_id: k.job_id as string,
      runs: k.runs,
      succeeded: k.successes,
      failed: k.failures,
      refused: k.refused,
      failure_rate: k.failures / k.runs,
      success_rate: k.success_rate,
      p50_duration_ms: k.p50_duration_ms,
      p95_duration_ms: k.p95_duration_ms,
      previous_p95_duration_ms: previousRows.get(k.job_id)?.p95_duration_ms ?? null,
      retries: k.retries,
      mean_retries: k.mean_retries,
    }));

  const reasons = new Map<string, { count: number; jobs: Set<string> }>();
  for (const run of runs.filter((r) => outcomeOf(r) === 'failed')) {
    const reason = redactor.text(reasonOf(run));
    const entry = reasons.get(reason) ?? { count: 0, jobs: new Set<string>() };
    entry.count++;
    entry.jobs.add(run.jobId);
    reasons.set(reason, entry);
  }
  const top_failure_reasons = [...reasons.entries()]
    .sort(([a, x], [b, y]) => y.count - x.count || byText(a, b))
    .slice(0, 5)
    .map(([reason, { count, jobs }]) => ({ reason, count, jobs: [...jobs].sort() }));

  const status = input.status;
  const breakers: ObservabilityReport['breakers'] = {
    safety_mode: status.safety.mode,
    kill_switches: status.killSwitches
      .map((k) => ({
        scope: k.jobId ?? 'global',
        since: k.changedAt,
        by: k.changedBy,
        reason: oneLine(k.reason),
      }))
      .sort((a, b) => byText(a.scope, b.scope)),
    quarantined_jobs: status.quarantined
      .map((q) => ({ job_id: q.jobId, since: q.since, reason: oneLine(q.reason) }))
      .sort((a, b) => byText(a.job_id, b.job_id)),
    late_jobs: status.jobs
      // The report's own job is running now: its first success is this run.
      .filter((j) => j.heartbeat.stale && j.jobId !== input.report)
      .map((j) => ({
        job_id: j.jobId,
        last_success_at: j.heartbeat.lastSuccessAt,
        allowed_age_seconds: j.heartbeat.maxAgeSeconds,
      }))
      .sort((a, b) => byText(a.job_id, b.job_id)),
  };

  const suggestions: ObservabilityReport['suggestions'] = [];
  const suggest = (
    rule: ObservabilityReport['suggestions'][number]['rule'],
    jobId: string | null,
    detail: string,
  ) => suggestions.push({ rule, job_id: jobId, detail });

  // failing_streak: the job's last N runs up to the period's end (this period and the one before,
  // refusals left out: they are not the job's failures) all failed.
  const history = [...previous, ...runs].filter((r) => outcomeOf(r) !== 'refused');
  for (const jobId of [...new Set(history.map((r) => r.jobId))].sort()) {
    const last = history.filter((r) => r.jobId === jobId).slice(-t.failingStreakRuns);
    if (last.length === t.failingStreakRuns && last.every((r) => outcomeOf(r) === 'failed'))
      suggest(
        'failing_streak',
        jobId,
        `failed each of its last ${t.failingStreakRuns} runs (last: ${reasonOf(last.at(-1)!)}); fix the cause before the quarantine threshold is reached`,
      );
  }
  for (const job of per_job) {
    if (
      job.runs >= t.failureRateMinRuns &&
      job.failure_rate !== null &&
      job.failure_rate >= t.failureRate
    )
      suggest(
        'high_failure_rate',
        job.job_id,
        `failure rate ${percent(job.failure_rate)} over ${job.runs} runs (threshold ${percent(t.failureRate)}); see the top failure reasons`,
      );
  }
  for (const job of per_job) {
    const earlier = previousRows.get(job.job_id);
    if (
      job.p95_duration_ms !== null &&
      job.previous_p95_duration_ms !== null &&
      job.previous_p95_duration_ms > 0 &&
      job.runs >= t.p95MinRuns &&
      (earlier?.runs ?? 0) >= t.p95MinRuns &&
      job.p95_duration_ms > job.previous_p95_duration_ms * (1 + t.p95GrowthPercent / 100)
    ) {
      const growth = Math.round((job.p95_duration_ms / job.previous_p95_duration_ms - 1) * 100);
      suggest(
        'p95_growth',
        job.job_id,
        `p95 duration ${job.p95_duration_ms} ms, up ${growth}% from ${job.previous_p95_duration_ms} ms the ${period.kind} before (threshold ${t.p95GrowthPercent}%); look for a slower dependency or more input`,
      );
    }
  }
  for (const job of per_job) {
    if (job.mean_retries !== null && job.retries > 0 && job.mean_retries >= t.meanRetries)
      suggest(
        'retry_heavy',
        job.job_id,
        `${job.retries} retries over ${job.runs} runs (mean ${round2(job.mean_retries)}, threshold ${t.meanRetries}); a dependency is flaky or throttling`,
      );
  }
  for (const q of breakers.quarantined_jobs)
    suggest(
      'quarantined',
      q.job_id,
      `quarantined since ${q.since}: fix the cause, then release it with quarantine_release (approved)`,
    );
  for (const late of breakers.late_jobs)
    suggest(
      'late',
      late.job_id,
      `its dead-man's switch is late (last success ${late.last_success_at ?? 'never'}): check its schedule, pause and recent failures`,
    );
  for (const k of breakers.kill_switches)
    suggest(
      'kill_switch_engaged',
      k.scope === 'global' ? null : k.scope,
      `the ${k.scope === 'global' ? 'global kill-switch' : `kill-switch of ${k.scope}`} is engaged since ${k.since}: release it with kill_switch_release once the cause is fixed`,
    );
  if (breakers.safety_mode !== 'NORMAL')
    suggest(
      'safety_mode',
      null,
      `the stage is in ${breakers.safety_mode}: dangerous jobs are refused until safety_relax`,
    );

  return redactor.value({
    schema_version: 1,
    report: input.report,
    stage: input.stage,
    period,
    job_run_id: input.jobRunId,
    as_of: input.asOf,
    generated_at: input.generatedAt,
    totals: {
      runs: stage?.runs ?? 0,
      succeeded: stage?.successes ?? 0,
      failed: stage?.failures ?? 0,
      refused: stage?.refused ?? 0,
      degraded: runs.filter((r) => outcomeOf(r) === 'degraded').length,
      success_rate: stage ? stage.success_rate : null,
      retries: stage?.retries ?? 0,
      failure_rate: stage ? stage.failures / stage.runs : null,
      p50_duration_ms: stage ? stage.p50_duration_ms : null,
      p95_duration_ms: stage ? stage.p95_duration_ms : null,
    },
    per_job,
    top_failure_reasons,
    breakers,
    suggestions,
  });
}

const round2 = (x: number) => Math.round(x * 100) / 100;
// Under a second in milliseconds (a 45 ms p50 is not "0.0s"), longer as the CLI shows durations.
const ms = (value: number | null) =>
  value === null ? '-' : value < 1000 ? `${value} ms` : formatDuration(value);

const TITLES: Record<ObservabilityReport['report'], string> = {
  daily_observability_report: 'Daily observability report',
  weekly_observability_report: 'Weekly observability report',
};

export const observabilityTitle = (report: ObservabilityReport): string =>
  `${TITLES[report.report]}: ${report.stage}, ${report.period.label} (${report.period.zone})`;

/** The report for people: the same numbers as its JSON, in Markdown. */
export function renderObservabilityMarkdown(report: ObservabilityReport): string {
  const t = report.totals;
  const b = report.breakers;
  const lines = [
    `# ${mdText(observabilityTitle(report))}`,
    '',
    `Period ${report.period.start} .. ${report.period.end} (UTC). Runs sealed by ${report.as_of}; breakers read at ${report.generated_at}.`,
    '',
    '## Totals',
    '',
    '| runs | succeeded | failed | refused | degraded | success rate | retries | failure rate | p50 | p95 |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${t.runs} | ${t.succeeded} | ${t.failed} | ${t.refused} | ${t.degraded} | ${percent(t.success_rate)} | ${t.retries} | ${percent(t.failure_rate)} | ${ms(t.p50_duration_ms)} | ${ms(t.p95_duration_ms)} |`,
    '',
    '## Per job',
    '',
  ];
  if (report.per_job.length === 0) lines.push('No runs in this period.');
  else
    lines.push(
      '| job | runs | failed | failure rate | p50 | p95 | retries |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...report.per_job.map(
        (j) =>
          `| ${mdText(j.job_id)} | ${j.runs} | ${j.failed} | ${percent(j.failure_rate)} | ${ms(j.p50_duration_ms)} | ${ms(j.p95_duration_ms)} | ${j.retries} |`,
      ),
    );
  lines.push('', '## Top failure reasons', '');
  if (report.top_failure_reasons.length === 0) lines.push('No failures.');
  else
    lines.push(
      ...report.top_failure_reasons.map(
        (r, i) =>
          `${i + 1}. ${mdText(r.reason)} — ${r.count} run(s): ${r.jobs.map(mdText).join(', ')}`,
      ),
    );
  lines.push(
    '',
    '## Breakers',
    '',
    `- Safety mode: ${b.safety_mode}`,
    `- Kill-switches: ${b.kill_switches.length ? b.kill_switches.map((k) => `${mdText(k.scope)} (since ${k.since}, by ${mdText(k.by)}: ${mdText(k.reason)})`).join('; ') : 'none engaged'}`,
    `- Quarantined jobs: ${b.quarantined_jobs.length ? b.quarantined_jobs.map((q) => `${mdText(q.job_id)} (since ${q.since}: ${mdText(q.reason)})`).join('; ') : 'none'}`,
    `- Late jobs (dead-man's switch): ${b.late_jobs.length ? b.late_jobs.map((l) => `${mdText(l.job_id)} (last success ${l.last_success_at ?? 'never'})`).join('; ') : 'none'}`,
    '',
    '## Suggestions',
    '',
  );
  if (report.suggestions.length === 0) lines.push('None: no rule matched.');
  else
    for (const s of report.suggestions)
      lines.push(`- **${s.rule}**${s.job_id ? ` ${mdText(s.job_id)}` : ''}: ${mdText(s.detail)}`);
  return `${lines.join('\n')}\n`;
}
