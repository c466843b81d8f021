import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import {
  type AuditEvent,
  ImprovementDigest,
  ObservabilityReport,
  SuggestionThresholds,
} from '../../contracts';
import type { StatusReport } from '../../functions/core/controls';
import type { RunItem, SealedOutcome } from '../../functions/core/ports';
import { createRedactor } from '../../functions/core/redaction';
import {
  buildImprovementDigest,
  renderDigestMarkdown,
} from '../../functions/core/reports/improvement-digest';
import {
  buildObservabilityReport,
  renderObservabilityMarkdown,
} from '../../functions/core/reports/observability-report';
import { previousPeriod, reportPeriod } from '../../functions/core/reports/period';
import { CANARIES, CUSTOM_PATTERN } from '../support/canaries';

const redactor = createRedactor({ placeholder: '[REDACTED]', patterns: [CUSTOM_PATTERN] });
const SECRETS = Object.values(CANARIES);
/** Every canary in one failure message, as a careless dependency might answer. */
const LEAKY = `payload rejected for ${SECRETS.join(' ')}`;

const at = (iso: string, plusMs = 0) => new Date(Date.parse(iso) + plusMs).toISOString();

interface Outcome {
  status: SealedOutcome['status'];
  quality?: SealedOutcome['quality'];
  durationMs: number;
  attempts: number;
  error?: { kind: string; message: string };
  events?: Partial<AuditEvent>[];
  /** When it was sealed, if not at the end of its duration. */
  sealedAt?: string;
}

/** A finished run record as the state table keeps it (the fields the reports read). */
function run(jobId: string, scheduledTime: string, o: Outcome): RunItem {
  const jobRunId = `${jobId}/${scheduledTime}`;
  return {
    jobRunId,
    jobId,
    scheduledTime,
    phase: 'finalized',
    audit: [],
    summary: { manifestKey: `stage=local/dt=${scheduledTime.slice(0, 10)}/job_id=${jobId}/m.json` },
    sealed: {
      status: o.status,
      quality: o.quality ?? (o.status === 'ok' ? 'OK' : 'UNKNOWN'),
      startedAt: scheduledTime,
      endedAt: o.sealedAt ?? at(scheduledTime, o.durationMs),
      attempts: o.attempts,
      diagnostics: [],
      error: o.error ? { name: 'JobFailedError', ...o.error } : null,
      integrityReport: null,
      events: o.events ?? [],
      effect: { kind: 'neutral' },
    },
  } as unknown as RunItem;
}
const ok = (durationMs: number, attempts = 1): Outcome => ({ status: 'ok', durationMs, attempts });
const failed = (kind: string, message: string, durationMs = 100, attempts = 1): Outcome => ({
  status: 'error',
  durationMs,
  attempts,
  error: { kind, message },
});

// The day 2026-12-02 in Tokyo: 2026-12-01 15:00 UTC to 2026-12-02 15:00 UTC, reported at 09:00
// JST the next morning.
const DAY = reportPeriod(
  'day',
  { start: '2026-12-01T15:00:00.000Z', end: '2026-12-02T15:00:00.000Z' },
  'Asia/Tokyo',
);
const AS_OF = '2026-12-03T00:00:00.000Z';
const H = (hour: number, day = '2026-12-02') =>
  new Date(`${day}T${String(hour).padStart(2, '0')}:00:00+09:00`).toISOString();

const QUARANTINE_EVENT = {
  type: 'job.run.quarantine.enter',
  at: at(H(12), 100),
  details: { reason: `3 consecutive failures: ${CANARIES.github_token}` },
} as Partial<AuditEvent>;

const DAY_RUNS: RunItem[] = [
  // The day before (for p95_growth and failing_streak): job_a fast, job_b once ok.
  run('job_a', H(1, '2026-12-01'), ok(1000)),
  run('job_a', H(2, '2026-12-01'), ok(1000)),
  run('job_a', H(3, '2026-12-01'), ok(1000)),
  run('job_b', H(4, '2026-12-01'), ok(50)),
  // The day: job_a two successes (one retried once), two failures (retried 2 and 0 times).
  run('job_a', H(1), ok(1000)),
  run('job_a', H(2), ok(2000, 2)),
  run('job_a', H(3), failed('dependency', 'dependency answered 503', 3000, 3)),
  run('job_a', H(4), failed('dependency', 'dependency answered 503', 4000, 1)),
  // job_b fails three times with a secret in its message, and is quarantined by the third.
  run('job_b', H(10), failed('validation', LEAKY)),
  run('job_b', H(11), failed('validation', LEAKY)),
  run('job_b', H(12), { ...failed('validation', LEAKY), events: [QUARANTINE_EVENT] }),
  // job_c: refused by the quarantine of … itself (status skipped), and one DEGRADED completion.
  run('job_c', H(5), {
    status: 'skipped',
    durationMs: 0,
    attempts: 0,
    error: { kind: 'refused_quarantine', message: 'job_c is quarantined' },
  }),
  run('job_c', H(6), { status: 'ok', quality: 'DEGRADED', durationMs: 500, attempts: 1 }),
  // Not in the report: after the day, sealed after the report's claim, and still open.
  run('job_a', H(0, '2026-12-03'), failed('timeout', 'too late')),
  run('job_a', H(23), { ...failed('timeout', 'sealed late'), sealedAt: at(AS_OF, 1) }),
  { ...run('job_a', H(22), ok(1)), phase: 'claimed', sealed: undefined } as unknown as RunItem,
];

const STATUS = {
  safety: { mode: 'SAFE', changedBy: 'alice', changedAt: H(8), reason: 'incident 42' },
  killSwitches: [
    {
      schemaVersion: 1,
      jobId: 'job_c',
      engaged: true,
      reason: `stop it, ${CANARIES.email}`,
      changedBy: 'bob',
      changedAt: H(9),
    },
  ],
  quarantined: [{ jobId: 'job_b', since: at(H(12), 100), reason: '3 consecutive failures' }],
  jobs: [
    { jobId: 'job_a', heartbeat: { stale: false, lastSuccessAt: H(2), maxAgeSeconds: 5400 } },
    { jobId: 'job_d', heartbeat: { stale: true, lastSuccessAt: null, maxAgeSeconds: 5400 } },
    // The report's own job, never a success yet: not late while it runs.
    {
      jobId: 'daily_observability_report',
      heartbeat: { stale: true, lastSuccessAt: null, maxAgeSeconds: 90000 },
    },
  ],
} as unknown as Pick<StatusReport, 'safety' | 'killSwitches' | 'quarantined' | 'jobs'>;

const dailyReport = () =>
  ObservabilityReport.parse(
    buildObservabilityReport({
      report: 'daily_observability_report',
      stage: 'local',
      period: DAY,
      jobRunId: 'daily_observability_report/2026-12-01T15:00:00Z',
      asOf: AS_OF,
      generatedAt: at(AS_OF, 2000),
      runs: DAY_RUNS,
      status: STATUS,
      thresholds: SuggestionThresholds.parse({ failureRateMinRuns: 3 }),
      redactor,
    }),
  );

describe('report periods', () => {
  test('a day and an ISO week are labelled in their zone, and the period before follows the zone', () => {
    // Prepare
    const week = reportPeriod(
      'week',
      { start: '2026-11-22T15:00:00.000Z', end: '2026-11-29T15:00:00.000Z' },
      'Asia/Tokyo',
    );
    // Act / Assess
    assert.equal(DAY.label, '2026-12-02');
    assert.equal(week.label, '2026-W48');
    assert.deepEqual(previousPeriod(DAY), {
      start: '2026-11-30T15:00:00.000Z',
      end: '2026-12-01T15:00:00.000Z',
    });
    assert.deepEqual(previousPeriod(week), {
      start: '2026-11-15T15:00:00.000Z',
      end: '2026-11-22T15:00:00.000Z',
    });
    // Europe/Berlin's 2026-10-25 has 25 hours: the day before 10-26 starts 25 h earlier.
    const berlin = reportPeriod(
      'day',
      { start: '2026-10-25T23:00:00.000Z', end: '2026-10-26T23:00:00.000Z' },
      'Europe/Berlin',
    );
    assert.equal(previousPeriod(berlin).start, '2026-10-24T22:00:00.000Z');
  });
});

describe('observability report from a fixture of runs', () => {
  test('totals, per job, top failure reasons, number by number', () => {
    // Prepare / Act
    const report = dailyReport();
    // Assess
    assert.deepEqual(report.period, {
      kind: 'day',
      label: '2026-12-02',
      start: '2026-12-01T15:00:00.000Z',
      end: '2026-12-02T15:00:00.000Z',
      zone: 'Asia/Tokyo',
    });
    // 4 (job_a) + 3 (job_b) + 2 (job_c); the late, the late-sealed and the open run are not in it.
    assert.deepEqual(report.totals, {
      runs: 9,
      succeeded: 2,
      failed: 5,
      refused: 1,
      degraded: 1,
      success_rate: 2 / 9,
      retries: 3,
      failure_rate: 5 / 9,
      // Every run's duration: 0, 100, 100, 100, 500, 1000, 2000, 3000, 4000; ranks 5 and 9.
      p50_duration_ms: 500,
      p95_duration_ms: 4000,
    });
    assert.deepEqual(report.per_job, [
      {
        job_id: 'job_a',
        runs: 4,
        succeeded: 2,
        failed: 2,
        refused: 0,
        failure_rate: 0.5,
        success_rate: 0.5,
        // Durations 1000, 2000, 3000, 4000: nearest rank ceil(0.5·4)=2 and ceil(0.95·4)=4.
        p50_duration_ms: 2000,
        p95_duration_ms: 4000,
        previous_p95_duration_ms: 1000,
        retries: 3,
        mean_retries: 0.75,
      },
      {
        job_id: 'job_b',
        runs: 3,
        succeeded: 0,
        failed: 3,
        refused: 0,
        failure_rate: 1,
        success_rate: 0,
        p50_duration_ms: 100,
        p95_duration_ms: 100,
        previous_p95_duration_ms: 50,
        retries: 0,
        mean_retries: 0,
      },
      {
        job_id: 'job_c',
        runs: 2,
        succeeded: 0,
        failed: 0,
        refused: 1,
        failure_rate: 0,
        success_rate: 0,
        p50_duration_ms: 0,
        p95_duration_ms: 500,
        previous_p95_duration_ms: null,
        retries: 0,
        mean_retries: 0,
      },
    ]);
    assert.deepEqual(
      report.top_failure_reasons.map((r) => [r.count, r.jobs, r.reason.slice(0, 34)]),
      [
        [3, ['job_b'], 'validation: payload rejected for ['],
        [2, ['job_a'], 'dependency: dependency answered 50'],
      ],
    );
  });

  test('the breakers and every stated suggestion rule, in order', () => {
    // Prepare / Act
    const report = dailyReport();
    // Assess
    assert.deepEqual(report.breakers, {
      safety_mode: 'SAFE',
      kill_switches: [{ scope: 'job_c', since: H(9), by: 'bob', reason: 'stop it, [REDACTED]' }],
      quarantined_jobs: [
        { job_id: 'job_b', since: at(H(12), 100), reason: '3 consecutive failures' },
      ],
      late_jobs: [{ job_id: 'job_d', last_success_at: null, allowed_age_seconds: 5400 }],
    });
    assert.deepEqual(
      report.suggestions.map((s) => [s.rule, s.job_id]),
      [
        ['failing_streak', 'job_b'],
        ['high_failure_rate', 'job_a'],
        ['high_failure_rate', 'job_b'],
        ['p95_growth', 'job_a'],
        ['retry_heavy', 'job_a'],
        ['quarantined', 'job_b'],
        ['late', 'job_d'],
        ['kill_switch_engaged', 'job_c'],
        ['safety_mode', null],
      ],
    );
    const growth = report.suggestions.find((s) => s.rule === 'p95_growth');
    assert.match(growth?.detail ?? '', /4000 ms, up 300% from 1000 ms the day before/);
    // job_b's p95 grew 100 → 50… but it had one run the day before: under p95MinRuns (3).
    assert.ok(!report.suggestions.some((s) => s.rule === 'p95_growth' && s.job_id === 'job_b'));
  });

  test('thresholds from params decide: stricter ones silence the rules', () => {
    // Prepare
    const thresholds = SuggestionThresholds.parse({
      failingStreakRuns: 4,
      failureRate: 0.6,
      failureRateMinRuns: 3,
      p95GrowthPercent: 300,
      meanRetries: 0.8,
    });
    // Act
    const report = buildObservabilityReport({
      report: 'daily_observability_report',
      stage: 'local',
      period: DAY,
      jobRunId: 'r',
      asOf: AS_OF,
      generatedAt: AS_OF,
      runs: DAY_RUNS,
      status: {
        ...STATUS,
        safety: { ...STATUS.safety, mode: 'NORMAL' },
        killSwitches: [],
        quarantined: [],
        jobs: [],
      },
      thresholds,
      redactor,
    });
    // Assess: job_b failed 3 of 4 needed; job_a's 50% < 60%; +300% is not more than 300%; 0.75 < 0.8.
    assert.deepEqual(
      report.suggestions.map((s) => [s.rule, s.job_id]),
      [['high_failure_rate', 'job_b']],
    );
  });

  test('the Markdown shows the same numbers, escapes table text, and no canary is in it or the JSON', () => {
    // Prepare
    const report = dailyReport();
    // Act
    const markdown = renderObservabilityMarkdown(report);
    // Assess
    assert.match(markdown, /^# Daily observability report: local, 2026-12-02 \(Asia\/Tokyo\)\n/);
    assert.ok(
      markdown.includes('| 9 | 2 | 5 | 1 | 1 | 22.2% | 3 | 55.6% | 500 ms | 4.0s |'),
      markdown,
    );
    assert.ok(markdown.includes('| job_a | 4 | 2 | 50.0% | 2.0s | 4.0s | 3 |'), markdown);
    assert.ok(markdown.includes('| job_b | 3 | 3 | 100.0% | 100 ms | 100 ms | 0 |'), markdown);
    assert.match(
      markdown,
      /\n1\. validation: payload rejected for \[REDACTED\].* — 3 run\(s\): job_b\n/,
    );
    assert.match(markdown, /\n2\. dependency: dependency answered 503 — 2 run\(s\): job_a\n/);
    assert.ok(markdown.includes('- Safety mode: SAFE'));
    assert.ok(markdown.includes("- Late jobs (dead-man's switch): job_d (last success never)"));
    assert.ok(markdown.includes('- **failing_streak** job_b: failed each of its last 3 runs'));
    const json = JSON.stringify(report);
    for (const [name, canary] of Object.entries(CANARIES)) {
      assert.ok(!json.includes(canary), `${name} in the JSON`);
      assert.ok(!markdown.includes(canary), `${name} in the Markdown`);
    }
    // A reason cannot break the table or smuggle HTML (a fake chain marker) into the post.
    const injected = buildObservabilityReport({
      report: 'daily_observability_report',
      stage: 'local',
      period: DAY,
      jobRunId: 'r',
      asOf: AS_OF,
      generatedAt: AS_OF,
      runs: [run('job_x', H(1), failed('internal', 'a | b\n<!-- opsrail:x -->'))],
      status: { ...STATUS, killSwitches: [], quarantined: [], jobs: [] },
      thresholds: SuggestionThresholds.parse({}),
      redactor,
    });
    const text = renderObservabilityMarkdown(injected);
    assert.ok(
      text.includes('1. internal: a \\| b &lt;!-- opsrail:x --&gt; — 1 run(s): job_x'),
      text,
    );
    assert.ok(!text.includes('<!--'));
  });

  test('no runs: zeros and nulls, and the Markdown says so', () => {
    // Prepare / Act
    const report = buildObservabilityReport({
      report: 'weekly_observability_report',
      stage: 'local',
      period: DAY,
      jobRunId: 'r',
      asOf: AS_OF,
      generatedAt: AS_OF,
      runs: [],
      status: {
        ...STATUS,
        safety: { ...STATUS.safety, mode: 'NORMAL' },
        killSwitches: [],
        quarantined: [],
        jobs: [],
      },
      thresholds: SuggestionThresholds.parse({}),
      redactor,
    });
    // Assess
    assert.deepEqual(report.totals, {
      runs: 0,
      succeeded: 0,
      failed: 0,
      refused: 0,
      degraded: 0,
      success_rate: null,
      retries: 0,
      failure_rate: null,
      p50_duration_ms: null,
      p95_duration_ms: null,
    });
    const markdown = renderObservabilityMarkdown(report);
    assert.ok(markdown.includes('| 0 | 0 | 0 | 0 | 0 | - | 0 | - | - | - |'), markdown);
    assert.ok(markdown.includes('No runs in this period.'));
    assert.ok(markdown.includes('No failures.'));
    assert.ok(markdown.includes('None: no rule matched.'));
  });
});

// The ISO week 2026-W48 in Tokyo: Mon 2026-11-23 00:00 JST to Mon 2026-11-30 00:00 JST.
const WEEK = reportPeriod(
  'week',
  { start: '2026-11-22T15:00:00.000Z', end: '2026-11-29T15:00:00.000Z' },
  'Asia/Tokyo',
);
const WEEK_AS_OF = '2026-11-30T00:20:00.000Z';
const D = (day: number, hour = 10) => H(hour, `2026-11-${String(day).padStart(2, '0')}`);

const controlEvent = (atIso: string, jobId: string | null, reason: string) => ({
  key: `stage=local/dt=${atIso.slice(0, 10)}/control/x-kill_switch.engage-000001.json`,
  event: {
    schemaVersion: 1,
    eventId: `control#kill_switch.engage#${atIso}`,
    type: 'kill_switch.engage',
    at: atIso,
    stage: 'local',
    ...(jobId ? { jobId } : {}),
    actor: { kind: 'operator', id: 'carol' },
    details: { scope: jobId ?? 'global', reason },
  } as AuditEvent,
});

const WEEK_RUNS: RunItem[] = [
  run('job_a', D(23), failed('dependency', 'dependency answered 503')),
  run('job_a', D(24), failed('dependency', 'dependency answered 502')),
  run('job_b', D(25), {
    ...failed('dependency', `timeout talking to ${CANARIES.slack_token}`),
    events: [{ type: 'job.run.quarantine.enter', at: D(25, 11), details: { reason: 'threshold' } }],
  }),
  run('job_b', D(26), failed('permission', 'AccessDenied on s3:GetObject')),
  run('job_c', D(27), {
    status: 'skipped',
    durationMs: 0,
    attempts: 0,
    error: { kind: 'refused_kill_switch', message: 'kill-switch of job_c engaged' },
  }),
  run('job_c', D(28), {
    status: 'skipped',
    durationMs: 0,
    attempts: 0,
    error: { kind: 'refused_kill_switch', message: 'kill-switch of job_c engaged' },
  }),
  run('job_a', D(28), ok(100)),
  // The week before and after: not in the digest.
  run('job_a', D(22), failed('permission', 'before the week')),
  run('job_a', D(30), failed('permission', 'after the week')),
];

const weeklyDigest = () =>
  ImprovementDigest.parse(
    buildImprovementDigest({
      stage: 'local',
      period: WEEK,
      jobRunId: 'weekly_improvement_digest/2026-11-22T15:00:00Z',
      asOf: WEEK_AS_OF,
      runs: WEEK_RUNS,
      controlEvents: [
        controlEvent(D(26, 9), 'job_c', `runaway, ping ${CANARIES.email}`),
        controlEvent(D(26, 9), 'job_c', `runaway, ping ${CANARIES.email}`), // the same event twice
        controlEvent(D(21), null, 'the week before'),
      ],
      topCauses: 3,
      evidencePerCause: 2,
      redactor,
    }),
  );

describe('improvement digest from a fixture of the week', () => {
  test('incidents by type, causes ranked, the top 3 with their latest evidence and a suggestion', () => {
    // Prepare / Act
    const digest = weeklyDigest();
    // Assess
    assert.equal(digest.period.label, '2026-W48');
    assert.deepEqual(digest.incidents, {
      total: 8,
      failed_runs: 4,
      quarantines: 1,
      kill_switches: 1,
      refused: 2,
    });
    assert.deepEqual(digest.causes, [
      { cause: 'failure: dependency', count: 3, jobs: ['job_a', 'job_b'] },
      { cause: 'refused: refused_kill_switch', count: 2, jobs: ['job_c'] },
      { cause: 'failure: permission', count: 1, jobs: ['job_b'] },
      { cause: 'kill_switch', count: 1, jobs: ['job_c'] },
      { cause: 'quarantine', count: 1, jobs: ['job_b'] },
    ]);
    assert.deepEqual(
      digest.top_causes.map((c) => c.cause),
      ['failure: dependency', 'refused: refused_kill_switch', 'failure: permission'],
    );
    const dependency = digest.top_causes[0]!;
    // The latest two of three, newest first, each pointing at its run's manifest.
    assert.deepEqual(
      dependency.evidence.map((e) => [e.job_run_id, e.evidence_ref]),
      [
        [`job_b/${D(25)}`, `stage=local/dt=${D(25).slice(0, 10)}/job_id=job_b/m.json`],
        [`job_a/${D(24)}`, `stage=local/dt=${D(24).slice(0, 10)}/job_id=job_a/m.json`],
      ],
    );
    assert.match(dependency.suggestion, /retry\.maxAttempts/);
    assert.match(digest.top_causes[1]!.suggestion, /kill-switch/);
    assert.match(digest.top_causes[2]!.suggestion, /capabilities or iam/);
  });

  test('the Markdown carries the causes and evidence, and no canary is in it or the JSON', () => {
    // Prepare
    const digest = weeklyDigest();
    // Act
    const markdown = renderDigestMarkdown(digest);
    // Assess
    assert.match(markdown, /^# Weekly improvement digest: local, 2026-W48 \(Asia\/Tokyo\)\n/);
    assert.ok(
      markdown.includes(
        'Incidents: 8 (failed runs 4, quarantines 1, kill-switches 1, refused runs 2).',
      ),
    );
    assert.ok(markdown.includes('| failure: dependency | 3 | job_a, job_b |'));
    assert.ok(markdown.includes('## 1. failure: dependency (3)'));
    assert.ok(markdown.includes('## 3. failure: permission (1)'));
    assert.ok(!markdown.includes('## 4.'));
    const json = JSON.stringify(digest);
    for (const [name, canary] of Object.entries(CANARIES)) {
      assert.ok(!json.includes(canary), `${name} in the JSON`);
      assert.ok(!markdown.includes(canary), `${name} in the Markdown`);
    }
  });

  test('a quiet week: no incidents, no causes', () => {
    // Prepare / Act
    const digest = buildImprovementDigest({
      stage: 'local',
      period: WEEK,
      jobRunId: 'r',
      asOf: WEEK_AS_OF,
      runs: [run('job_a', D(24), ok(10))],
      controlEvents: [],
      topCauses: 3,
      evidencePerCause: 5,
      redactor,
    });
    // Assess
    assert.equal(digest.incidents.total, 0);
    assert.deepEqual([digest.causes, digest.top_causes], [[], []]);
    assert.ok(renderDigestMarkdown(digest).includes('No incidents this week.'));
  });
});
