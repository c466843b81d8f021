import { deferred } from './deferred';
import * as z from 'zod';
import { JobId, Stage, UtcTimestamp } from './common';
import { SafetyMode } from './safety-state';
import { TimeZone } from './schedule';

/**
 * The routine reports (docs/reports.md): the daily and weekly observability reports and the weekly
 * improvement digest. Each is a built-in job with a calendar window; its JSON (these contracts) and
 * its Markdown go into the run's bundle.
 */
export const REPORT_JOB_IDS = [
  'daily_observability_report',
  'weekly_observability_report',
  'weekly_improvement_digest',
] as const;
export type ReportJobId = (typeof REPORT_JOB_IDS)[number];

export const isReportJob = (jobId: string): jobId is ReportJobId =>
  (REPORT_JOB_IDS as readonly string[]).includes(jobId);

/**
 * The stage policy's `reports` section (docs/reports.md#switches): the global switch of the routine
 * reports. Off by default; each report job is switched on by itself too (`jobs.<id>.enabled`).
 */
export const ReportsSettings = deferred(() =>
  z.strictObject({
    /** Off: no report job is scheduled, and a manual run writes no report and posts nothing. */
    enabled: z.boolean().default(false),
  }),
);
export type ReportsSettings = z.infer<typeof ReportsSettings>;

/** The thresholds of the stated suggestion rules (docs/reports.md#suggestion-rules). */
export const SuggestionThresholds = deferred(() =>
  z.strictObject({
    /** `failing_streak`: the job failed each of its last N runs. */
    failingStreakRuns: z.number().int().min(1).max(100).default(3),
    /** `high_failure_rate`: failure rate at or above this (0–1)… */
    failureRate: z.number().min(0).max(1).default(0.2),
    /** …over at least this many runs. */
    failureRateMinRuns: z.number().int().min(1).max(10_000).default(5),
    /** `p95_growth`: p95 duration grew by more than this percentage over the previous period… */
    p95GrowthPercent: z.number().min(0).max(10_000).default(50),
    /** …with at least this many runs in each of the two periods. */
    p95MinRuns: z.number().int().min(1).max(10_000).default(3),
    /** `retry_heavy`: mean retries per run at or above this. */
    meanRetries: z.number().min(0).max(100).default(0.5),
  }),
);
export type SuggestionThresholds = z.infer<typeof SuggestionThresholds>;

/** daily_observability_report and weekly_observability_report (docs/reports.md). */
export const ObservabilityReportParams = deferred(() =>
  z.strictObject({
    /** Post the report through the notification chain (docs/notifications.md). Off by default. */
    postToIssue: z.boolean().default(false),
    suggestions: SuggestionThresholds.prefault({}),
  }),
);
export type ObservabilityReportParams = z.infer<typeof ObservabilityReportParams>;

/** weekly_improvement_digest (docs/reports.md#the-improvement-digest). */
export const ImprovementDigestParams = deferred(() =>
  z.strictObject({
    postToIssue: z.boolean().default(false),
    /** How many causes the digest ranks (the issue asks for 3). */
    topCauses: z.number().int().min(1).max(20).default(3),
    /** How many incidents each top cause cites as its evidence. */
    evidencePerCause: z.number().int().min(1).max(50).default(5),
  }),
);
export type ImprovementDigestParams = z.infer<typeof ImprovementDigestParams>;

/** The span a report covers: its run's calendar window, in the job's time zone. */
export const ReportPeriod = deferred(() =>
  z.strictObject({
    kind: z.enum(['day', 'week']),
    /** `2026-12-02` for a day, `2026-W49` for an ISO week, in `zone`. */
    label: z.string().min(1),
    start: UtcTimestamp,
    end: UtcTimestamp,
    zone: TimeZone,
  }),
);
export type ReportPeriod = z.infer<typeof ReportPeriod>;

const rate = () => z.number().min(0).max(1).nullable();
const count = () => z.number().int().min(0);

export const SuggestionRule = deferred(() =>
  z.enum([
    'failing_streak',
    'high_failure_rate',
    'p95_growth',
    'retry_heavy',
    'quarantined',
    'late',
    'kill_switch_engaged',
    'safety_mode',
  ]),
);
export type SuggestionRule = z.infer<typeof SuggestionRule>;

/** The JSON of an observability report (docs/reports.md#the-observability-reports). */
export const ObservabilityReport = deferred(() =>
  z.strictObject({
    schema_version: z.literal(1),
    report: z.enum(['daily_observability_report', 'weekly_observability_report']),
    stage: Stage,
    period: ReportPeriod,
    /** The report's run: its runs are those sealed no later than its claim (as_of). */
    job_run_id: z.string().min(1),
    as_of: UtcTimestamp,
    /** When the breakers were read. */
    generated_at: UtcTimestamp,
    totals: z.strictObject({
      runs: count(),
      succeeded: count(),
      /** Runs that ended with status error (refusals are counted apart). */
      failed: count(),
      /** Runs refused before their job ran (status skipped: safety, kill-switch, quarantine…). */
      refused: count(),
      /** Runs that completed with quality DEGRADED or UNKNOWN: neither success nor failure. */
      degraded: count(),
      success_rate: rate(),
      retries: count(),
      /** failed / runs, null for no runs. */
      failure_rate: rate(),
      /** Nearest-rank percentiles of every run's duration (the stage's KPI row), null for no runs. */
      p50_duration_ms: count().nullable(),
      p95_duration_ms: count().nullable(),
    }),
    per_job: z.array(
      z.strictObject({
        job_id: JobId,
        runs: count(),
        succeeded: count(),
        failed: count(),
        refused: count(),
        failure_rate: rate(),
        success_rate: rate(),
        p50_duration_ms: count().nullable(),
        p95_duration_ms: count().nullable(),
        /** The previous period's p95, for the p95_growth rule. */
        previous_p95_duration_ms: count().nullable(),
        retries: count(),
        mean_retries: z.number().min(0).nullable(),
      }),
    ),
    top_failure_reasons: z
      .array(
        z.strictObject({
          reason: z.string().min(1),
          count: z.number().int().min(1),
          jobs: z.array(JobId),
        }),
      )
      .max(5),
    breakers: z.strictObject({
      safety_mode: SafetyMode,
      kill_switches: z.array(
        z.strictObject({
          scope: z.string().min(1),
          since: UtcTimestamp,
          by: z.string(),
          reason: z.string(),
        }),
      ),
      quarantined_jobs: z.array(
        z.strictObject({ job_id: JobId, since: UtcTimestamp, reason: z.string() }),
      ),
      late_jobs: z.array(
        z.strictObject({
          job_id: JobId,
          last_success_at: UtcTimestamp.nullable(),
          allowed_age_seconds: count().nullable(),
        }),
      ),
    }),
    suggestions: z.array(
      z.strictObject({
        rule: SuggestionRule,
        job_id: JobId.nullable(),
        detail: z.string().min(1),
      }),
    ),
  }),
);
export type ObservabilityReport = z.infer<typeof ObservabilityReport>;

export const IncidentType = deferred(() =>
  z.enum(['failed_run', 'quarantine', 'kill_switch', 'refused']),
);
export type IncidentType = z.infer<typeof IncidentType>;

/** One incident as the digest cites it: where its evidence is. */
export const DigestIncident = deferred(() =>
  z.strictObject({
    type: IncidentType,
    job_id: JobId.nullable(),
    job_run_id: z.string().nullable(),
    at: UtcTimestamp,
    detail: z.string(),
    /** The run's manifest key, or the control event's key, in the evidence bucket. */
    evidence_ref: z.string().nullable(),
  }),
);
export type DigestIncident = z.infer<typeof DigestIncident>;

/** The JSON of the weekly improvement digest (docs/reports.md#the-improvement-digest). */
export const ImprovementDigest = deferred(() =>
  z.strictObject({
    schema_version: z.literal(1),
    report: z.literal('weekly_improvement_digest'),
    stage: Stage,
    period: ReportPeriod,
    job_run_id: z.string().min(1),
    as_of: UtcTimestamp,
    incidents: z.strictObject({
      total: count(),
      failed_runs: count(),
      quarantines: count(),
      kill_switches: count(),
      refused: count(),
    }),
    /** Every cause of the week, most incidents first. */
    causes: z.array(
      z.strictObject({
        cause: z.string().min(1),
        count: z.number().int().min(1),
        jobs: z.array(JobId),
      }),
    ),
    /** The top causes, each with the incidents that support it and a suggested improvement. */
    top_causes: z.array(
      z.strictObject({
        cause: z.string().min(1),
        count: z.number().int().min(1),
        jobs: z.array(JobId),
        evidence: z.array(DigestIncident),
        suggestion: z.string().min(1),
      }),
    ),
  }),
);
export type ImprovementDigest = z.infer<typeof ImprovementDigest>;
