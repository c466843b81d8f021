/**
 * Issue 13's done-when, on ONE local stack (`npx tsx test/support/demo-issue13.ts`): http jobs run
 * against a fake endpoint on one day of the stage's zone (two succeed, one is retried after a 500,
 * one fails on 503, one fails on 403 twice, is quarantined and then refused), then the daily
 * observability report of that day and the weekly improvement digest of its week run with
 * `postToIssue` on against a fake Slack and a fake GitHub issue. Prints (a) the daily report's
 * Markdown, (b) what the fakes received, (c) one failed run's audit ticket, (d) the `job_kpis`
 * query's rows of that day and whether they equal the report's numbers, (e) the `open_tickets`
 * query. Exits non-zero if anything is missing.
 */
import { isDeepStrictEqual } from 'node:util';
import { AuditTicket, ImprovementDigest, ObservabilityReport } from '../../contracts';
import { kpiRowsOfQuery } from '../../functions/core/kpis';
import type { PostingRecord } from '../../functions/jobs/reports';
import { mirrorEvidence, runNamedQuery } from '../../local/query';
import { bundleObjects, kpisOfQueryDay, kpisOfReport, runIssue13Fixture } from './issue13';

const missing: string[] = [];
const check = (ok: unknown, what: string) => {
  if (!ok) missing.push(what);
};
const out = (line = '') => process.stdout.write(`${line}\n`);
const heading = (text: string) => {
  out();
  out(`===== ${text} =====`);
};
const firstLine = (text: string) => text.split('\n')[0] ?? '';
const round = (v: unknown) =>
  typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(4)) : v;

const fixture = await runIssue13Fixture();
try {
  const { runtime, slack, github, zone, day } = fixture;
  out(`stage ${runtime.deps.policy.stage}, zone ${zone}: the jobs ran on ${day}`);
  for (const { jobId, scheduledTime, outcome } of fixture.outcomes) {
    const summary = 'summary' in outcome ? outcome.summary : null;
    const error = summary?.error ? ` (${summary.error.kind}: ${summary.error.message})` : '';
    out(
      `  ${jobId} @ ${scheduledTime}: ${outcome.kind}${summary ? ` ${summary.status}/${summary.quality}${error}` : ''}`,
    );
  }
  const alerts = slack.messages.length;
  out(`fake Slack: ${alerts} failure alert(s) while the jobs ran`);
  slack.reset();
  github.reset();

  // The daily report of the day, then the digest of its ISO week.
  const daily = await runtime.run({
    jobId: 'daily_observability_report',
    scheduledTime: fixture.dailyTick,
    trigger: 'schedule',
  });
  check(daily.kind === 'completed', `the daily report completed (${daily.kind})`);
  const dailyObjects = await bundleObjects(runtime, daily);
  const report = ObservabilityReport.parse(
    JSON.parse(dailyObjects['outputs/observability_report.json'] as string),
  );
  const reportMd = dailyObjects['outputs/observability_report.md'] ?? '';
  const dailyPosting = JSON.parse(dailyObjects['outputs/posting.json'] as string) as PostingRecord;
  const digest = await runtime.run({
    jobId: 'weekly_improvement_digest',
    scheduledTime: fixture.digestTick,
    trigger: 'schedule',
  });
  check(digest.kind === 'completed', `the digest completed (${digest.kind})`);
  const digestObjects = await bundleObjects(runtime, digest);
  const digestJson = ImprovementDigest.parse(
    JSON.parse(digestObjects['outputs/improvement_digest.json'] as string),
  );
  const digestPosting = JSON.parse(
    digestObjects['outputs/posting.json'] as string,
  ) as PostingRecord;

  heading(`(a) ${daily.jobRunId}: outputs/observability_report.md`);
  out(reportMd.trimEnd());
  check(reportMd.startsWith('# Daily observability report'), 'the daily report’s Markdown');

  heading('(b) what the fake Slack and the fake GitHub issue received');
  const via = (p: PostingRecord) =>
    `${p.dedupe_key}: ${p.notification?.attempts.map((a) => `${a.channel} ${a.status}`).join(', ')}`;
  out(`daily report posting: ${via(dailyPosting)}`);
  out(
    `digest posting:       ${via(digestPosting)} (digest: ${digestJson.period.label}, ${digestJson.incidents.total} incidents)`,
  );
  out(`fake Slack: ${slack.messages.length} message(s)`);
  for (const text of slack.messages) out(`  first line: ${firstLine(text)}`);
  out(`fake GitHub issue #${github.issueNumber}: ${github.posted.length} comment(s)`);
  for (const body of github.posted) out(`  first line: ${firstLine(body)}`);
  check(slack.messages.length === 2, 'two Slack messages (the report and the digest)');
  check(github.posted.length === 2, 'two GitHub comments (the report and the digest)');
  check(
    slack.messages.some((m) => m.includes(report.period.label)) &&
      github.posted.some((b) => b.includes(digestJson.period.label)),
    'the posts name their periods',
  );

  heading('(c) one failed run’s audit ticket');
  const failed = fixture.outcomes.find(
    (o) => o.jobId === 'i13_forbidden' && o.outcome.kind === 'failed',
  );
  check(failed, 'a failed run of i13_forbidden');
  if (failed) {
    const objects = await bundleObjects(runtime, failed.outcome);
    const ticket = AuditTicket.parse(JSON.parse(objects['ticket.json'] as string));
    const ticketMd = objects['ticket_md.md'] ?? '';
    out(`${failed.outcome.jobRunId}: ticket_md/…md`);
    out(ticketMd.trimEnd());
    out();
    out(
      `ticket/…json: ${JSON.stringify({ classification: ticket.classification, risk: ticket.risk, risk_reasons: ticket.risk_reasons })}`,
    );
    check(ticketMd.length > 0, 'the ticket’s Markdown');
    check(ticket.classification.http_status === 403, 'the ticket classifies the 403');
  }

  const root = await mirrorEvidence(runtime.deps.evidence, runtime.deps.policy.stage);
  heading(
    `(d) opsrail query --named job_kpis (local, DuckDB, days in ${zone}): the rows of ${day}`,
  );
  const rows = kpiRowsOfQuery(await runNamedQuery(root, 'job_kpis', undefined, zone));
  const dayRows = rows.filter((r) => r.granularity === 'day' && r.period_start === day);
  console.table(
    dayRows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v)]))),
  );
  const equal = isDeepStrictEqual(kpisOfReport(report), kpisOfQueryDay(rows, day));
  out(
    `${dayRows.length} rows (rates rounded to 4 places here); runs, failures, refusals, success and failure rate, retries, p50/p95 equal the daily report's per job and its totals: ${equal}`,
  );
  check(dayRows.length > 1, 'the job_kpis rows of the day');
  check(equal, 'the job_kpis numbers equal the report’s');

  heading('(e) opsrail query --named open_tickets');
  const tickets = await runNamedQuery(root, 'open_tickets');
  console.table(tickets);
  check(tickets.length === 3, `three open tickets, one per failed run (got ${tickets.length})`);
} finally {
  await fixture.stop();
}
out();
if (missing.length) {
  out(`MISSING: ${missing.join('; ')}`);
  process.exitCode = 1;
} else out('everything asked for is above');
