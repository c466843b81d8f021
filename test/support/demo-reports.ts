/**
 * The routine reports on the local stack, end to end (`npx tsx test/support/demo-reports.ts`): a
 * few jobs run (one flaky, one failing until it is quarantined), then the daily observability
 * report and the weekly improvement digest run with posting on against a fake Slack and a fake
 * GitHub issue; each window is delivered twice to show it posts once. Prints the Markdown of the
 * report and the digest and what each fake received.
 */
import { LocalRuntime } from '../../local/runtime';
import type { PostingRecord } from '../../functions/jobs/reports';
import { readVerifiedBundle } from './evidence';
import { FakeGitHub, FakeSlack } from './fake-http';
import { testStack } from './local';
import { LEAKED, reportedJobs, reportPolicy, writeChannelSecrets } from './reports';

const slack = new FakeSlack();
const github = new FakeGitHub();
await Promise.all([slack.start(), github.start()]);
const stack = await testStack({ policyDir: reportPolicy({ slack, github }) });
const printed: string[] = [];
const out = (line = '') => {
  printed.push(line);
  process.stdout.write(`${line}\n`);
};
try {
  writeChannelSecrets(stack.env, slack, github);
  const runtime = new LocalRuntime(stack.env, reportedJobs());
  // Wednesday 2026-11-18 in Tokyo (ISO week 2026-W47).
  const runs = [
    ['rep_ok', '2026-11-18T00:00:00Z'],
    ['rep_ok', '2026-11-18T01:00:00Z'],
    ['rep_flaky', '2026-11-18T02:00:00Z'],
    ['rep_fail', '2026-11-18T03:00:00Z'],
    ['rep_fail', '2026-11-18T04:00:00Z'],
    ['rep_fail', '2026-11-18T05:00:00Z'],
  ] as const;
  for (const [jobId, scheduledTime] of runs) {
    const outcome = await runtime.run({ jobId, scheduledTime }, { retryPauseMs: 10 });
    const summary = 'summary' in outcome ? outcome.summary : null;
    out(
      `ran ${jobId} @ ${scheduledTime}: ${outcome.kind} ${summary ? `${summary.status}/${summary.quality}${summary.error ? ` (${summary.error.kind})` : ''}` : ''}`,
    );
  }

  const report = async (jobId: string, scheduledTime: string, file: string) => {
    const outcome = await runtime.run({ jobId, scheduledTime });
    if (outcome.kind !== 'completed') throw new Error(`${jobId}: ${JSON.stringify(outcome)}`);
    const { objects } = await readVerifiedBundle(
      runtime.deps.evidence,
      outcome.summary.manifestKey as string,
    );
    const posting = JSON.parse(objects['outputs/posting.json'] as string) as PostingRecord;
    const again = await runtime.run({ jobId, scheduledTime });
    out();
    out(`===== ${outcome.jobRunId} (${outcome.summary.status}/${outcome.summary.quality}) =====`);
    out(objects[`outputs/${file}`]);
    out(
      `posting: ${posting.dedupe_key} via ${posting.notification?.delivered_via} [${posting.notification?.attempts.map((a) => `${a.channel} ${a.status}`).join(', ')}]`,
    );
    out(`the same window delivered again: ${again.kind}`);
  };

  out(`fake Slack: ${slack.messages.length} failure alert(s) for the failed runs`);
  slack.reset();
  await report('daily_observability_report', '2026-11-19T00:00:00Z', 'observability_report.md');
  const dailyPosts = slack.messages.length;
  // Slack refuses the digest: the chain falls back to the GitHub issue.
  slack.reset(Array(5).fill({ status: 400 }));
  await report('weekly_improvement_digest', '2026-11-23T00:20:00Z', 'improvement_digest.md');
  out();
  out(
    `fake Slack: ${dailyPosts} message(s) for the daily report; ${slack.received.length} refused request(s) for the digest`,
  );
  out(`fake GitHub issue #${github.issueNumber}: ${github.posted.length} comment(s)`);
  for (const body of github.posted) out(`  first line: ${body.split('\n')[0]}`);
  const everything = [...slack.received.map((r) => r.body), ...github.posted, ...printed].join(
    '\n',
  );
  out(
    `the failing job's leaked token in any post or report: ${everything.includes(LEAKED) ? 'YES' : 'no'}`,
  );
} finally {
  await stack.stop();
  await Promise.all([slack.stop(), github.stop()]);
}
