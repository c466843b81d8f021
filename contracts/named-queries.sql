-- The questions operators ask of the evidence: the single source for Athena named queries (CDK) and for
-- `opsrail query --named` (DuckDB, after a small tested translation). Written in Athena's (Trino) SQL.
-- Each query starts with a "-- name:" line and a "-- description:" line. Every table it reads is
-- filtered on its `dt` partition by one window, written date_add('day', -N, current_date) with N its
-- default in days (`opsrail query --named <name> --days N` sets another), so Athena lists only the
-- partitions of the window (docs/evidence.md#named-queries).

-- name: failures_by_job
-- description: Failed runs per job over the last 7 days.
SELECT job_id, count(*) AS failures, max(endedat) AS last_failure_at
FROM run_records
WHERE status = 'error' AND dt >= date_format(date_add('day', -7, current_date), '%Y-%m-%d')
GROUP BY job_id
ORDER BY failures DESC, job_id;

-- name: success_rate_and_p95_duration
-- description: Per job over the last 7 days: runs, share that succeeded with quality OK, and p95 duration (refusals excluded).
SELECT job_id,
       count(*) AS runs,
       round(CAST(count_if(status IN ('ok', 'dry_run') AND quality = 'OK') AS double) / count(*), 4) AS success_rate,
       approx_percentile(duration_ms, 0.95) AS p95_duration_ms
FROM run_records
WHERE status <> 'skipped' AND dt >= date_format(date_add('day', -7, current_date), '%Y-%m-%d')
GROUP BY job_id
ORDER BY job_id;

-- name: retries_by_job
-- description: Retries per job over the last 7 days, and how many runs needed them.
SELECT job_id, count(*) AS retries, count(DISTINCT jobrunid) AS runs_with_retries
FROM audit_events
WHERE type = 'job.run.retry' AND dt >= date_format(date_add('day', -7, current_date), '%Y-%m-%d')
GROUP BY job_id
ORDER BY retries DESC, job_id;

-- name: dangerous_op_decisions
-- description: Every decision on a dangerous op over the last 90 days, and who decided.
SELECT "at", job_id, jobrunid, type AS decision, actor.id AS decided_by
FROM audit_events
WHERE type IN ('job.dangerous_op.confirm', 'job.dangerous_op.reject')
  AND dt >= date_format(date_add('day', -90, current_date), '%Y-%m-%d')
ORDER BY "at" DESC, jobrunid;

-- name: quarantine_history
-- description: Every quarantine entry and exit over the last 90 days, oldest first.
SELECT "at", job_id, type AS event, jobrunid, details
FROM audit_events
WHERE type IN ('job.run.quarantine.enter', 'job.run.quarantine.exit')
  AND dt >= date_format(date_add('day', -90, current_date), '%Y-%m-%d')
ORDER BY "at", job_id;

-- name: missed_ticks
-- description: Ticks due over the last 30 days (recorded by schedule_ledger from the schedules) that never produced a run.
-- A run's dt is the date of its window start, which its id carries (<jobId>/<window start>): only
-- ticks whose run would fall inside the window are asked about, so none is missed for lack of a
-- partition.
SELECT e.jobid AS job_id, e.jobrunid, min(e.scheduledtime) AS first_tick
FROM expected_ticks e
LEFT JOIN run_records r ON r.jobrunid = e.jobrunid
  AND r.dt >= date_format(date_add('day', -30, current_date), '%Y-%m-%d')
WHERE r.jobrunid IS NULL
  AND e.dt >= date_format(date_add('day', -30, current_date), '%Y-%m-%d')
  AND substr(e.jobrunid, strpos(e.jobrunid, '/') + 1, 10) >= date_format(date_add('day', -30, current_date), '%Y-%m-%d')
GROUP BY e.jobid, e.jobrunid
ORDER BY first_tick, job_id;

-- name: skipped_ticks
-- description: Ticks not run over the last 7 days because another window's run of the same job was still open (overlap policy), per job.
-- The event is on the open run's audit (docs/scheduling.md#overlap), so its dt is that run's.
SELECT job_id, count(*) AS skipped, max("at") AS last_skipped_at
FROM audit_events
WHERE type = 'job.run.tick_skipped' AND dt >= date_format(date_add('day', -7, current_date), '%Y-%m-%d')
GROUP BY job_id
ORDER BY skipped DESC, job_id;

-- name: latency_breaches
-- description: Breaching hours per endpoint over the last 90 days (the roll-ups' retention), with the worst p95 and the last breach.
SELECT endpoint, count(*) AS hours, count_if(breach) AS breaching_hours, max(p95_ms) AS worst_p95_ms, max(CASE WHEN breach THEN hour END) AS last_breach_hour
FROM latency_rollups
WHERE dt >= date_format(date_add('day', -90, current_date), '%Y-%m-%d')
GROUP BY endpoint
ORDER BY breaching_hours DESC, endpoint;

-- name: latency_samples_recent
-- description: Samples per endpoint over the last 14 days (the samples' retention): count, failures and the latest.
SELECT endpoint, count(*) AS samples, count_if(status IS NULL OR status < 200 OR status >= 400) AS failed, max("at") AS last_sample_at
FROM latency_samples
WHERE dt >= date_format(date_add('day', -14, current_date), '%Y-%m-%d')
GROUP BY endpoint
ORDER BY endpoint;

-- name: job_kpis
-- description: KPIs per job and for the whole stage, per day and per ISO week of scheduled time (in the stage's time zone), over the last 28 days: runs, successes, failures, refusals, retries, success rate, mean retries and attempts, nearest-rank p50/p95 duration (docs/observability.md#kpis).
-- The definitions of functions/core/kpis.ts, which a test holds this equal to (test/integration/kpis-query.test.ts):
-- success is ok or dry_run with quality OK, a run's retries are its attempts after the first, and
-- the percentiles are nearest-rank (the duration at rank ceil(p × n), computed in double as there).
-- The zone is written once, AT TIME ZONE 'UTC': withTimeZone sets the stage's, for Athena (infra) and
-- for `opsrail query --named` alike.
WITH runs AS (
  SELECT job_id, status, quality, duration_ms, attempts, greatest(attempts - 1, 0) AS retries,
         CAST(from_iso8601_timestamp(scheduledtime) AT TIME ZONE 'UTC' AS date) AS day
  FROM run_records
  WHERE dt >= date_format(date_add('day', -28, current_date), '%Y-%m-%d')
),
periods AS (
  SELECT 'day' AS granularity, day AS period_start, 'job' AS scope, job_id, status, quality, duration_ms, attempts, retries FROM runs
  UNION ALL
  SELECT 'day', day, 'stage', CAST(NULL AS varchar), status, quality, duration_ms, attempts, retries FROM runs
  UNION ALL
  SELECT 'week', CAST(date_trunc('week', day) AS date), 'job', job_id, status, quality, duration_ms, attempts, retries FROM runs
  UNION ALL
  SELECT 'week', CAST(date_trunc('week', day) AS date), 'stage', CAST(NULL AS varchar), status, quality, duration_ms, attempts, retries FROM runs
),
ranked AS (
  SELECT *,
         row_number() OVER (PARTITION BY granularity, period_start, scope, job_id ORDER BY duration_ms) AS duration_rank,
         count(*) OVER (PARTITION BY granularity, period_start, scope, job_id) AS n
  FROM periods
)
SELECT granularity, CAST(period_start AS varchar) AS period_start, scope, job_id,
       count(*) AS runs,
       count_if(status IN ('ok', 'dry_run') AND quality = 'OK') AS successes,
       count_if(status = 'error') AS failures,
       count_if(status = 'skipped') AS refused,
       sum(retries) AS retries,
       CAST(count_if(status IN ('ok', 'dry_run') AND quality = 'OK') AS double) / count(*) AS success_rate,
       CAST(sum(retries) AS double) / count(*) AS mean_retries,
       CAST(sum(attempts) AS double) / count(*) AS mean_attempts,
       max(CASE WHEN duration_rank = ceil(CAST(0.5 AS double) * n) THEN duration_ms END) AS p50_duration_ms,
       max(CASE WHEN duration_rank = ceil(CAST(0.95 AS double) * n) THEN duration_ms END) AS p95_duration_ms
FROM ranked
GROUP BY granularity, period_start, scope, job_id
ORDER BY granularity, period_start, scope, job_id;

-- name: open_tickets
-- description: Open audit tickets of failed runs over the last 30 days, highest risk first, then newest (docs/evidence.md#tickets).
SELECT ticket_id, job_id, run_id, risk, classification.category AS category, classification.http_status AS http_status, failed.step AS failed_step, failed.error_code AS error_code, opened_at, suggested_action
FROM tickets
WHERE status = 'open' AND dt >= date_format(date_add('day', -30, current_date), '%Y-%m-%d')
ORDER BY CASE risk WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END DESC, opened_at DESC, ticket_id;
