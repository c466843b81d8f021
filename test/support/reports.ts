import { writeFileSync } from 'node:fs';
import type { HandlerEnv } from '../../contracts';
import { DependencyError, JobFailedError } from '../../functions/core/errors';
import type { JobImplementation } from '../../functions/jobs/types';
import { CANARIES } from './canaries';
import type { FakeGitHub, FakeSlack } from './fake-http';
import { withTestJobs } from './local';

/**
 * What the report tests and the demo share: a policy with the routine reports switched on and
 * the notification chain pointed at the fake Slack and GitHub, and a few jobs to report on.
 */
export const SLACK_REF =
  'arn:aws:secretsmanager:us-east-1:123456789012:secret:reports-slack-AbCdEf';
export const GITHUB_REF = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:reports-gh-AbCdEf';

/** The secret a failing job leaks into its error message: no report or post may carry it. */
export const LEAKED = CANARIES.github_token as string;

export interface ReportPolicyOptions {
  slack?: FakeSlack;
  github?: FakeGitHub;
  reportsEnabled?: boolean;
  postToIssue?: boolean;
  /** The report jobs' own switches (jobs.<id>.enabled); default true. */
  jobsEnabled?: boolean;
  runLeaseSeconds?: number;
  /** The catalog entries of the jobs to report on (withTestJobs); default rep_ok, rep_flaky, rep_fail. */
  jobs?: Parameters<typeof withTestJobs>[0];
}

/** Test jobs: two that succeed, one that succeeds on its second attempt, one that always fails. */
export function reportedJobs() {
  const calls = new Map<string, number>();
  const ok = (jobId: string): JobImplementation => ({
    jobId,
    async run() {
      return { quality: 'OK', outputs: [], integrityReport: null, diagnostics: [] };
    },
  });
  const jobs: JobImplementation[] = [
    ok('rep_ok'),
    {
      jobId: 'rep_flaky',
      async run({ run }) {
        // Fails the first attempt of every run (retried), succeeds the second.
        const call = (calls.get(run.jobRunId) ?? 0) + 1;
        calls.set(run.jobRunId, call);
        if (call === 1) throw new DependencyError(`dependency answered 503 (${run.jobRunId})`);
        return { quality: 'OK', outputs: [], integrityReport: null, diagnostics: [] };
      },
    },
    {
      jobId: 'rep_fail',
      async run() {
        throw new JobFailedError('validation', `the API rejected token ${LEAKED}`);
      },
    },
  ];
  return jobs;
}

const REPORT_JOBS = [
  'daily_observability_report',
  'weekly_observability_report',
  'weekly_improvement_digest',
];

/** A policy directory: the test jobs, the reports switched on (unless told), the fake channels. */
export function reportPolicy(options: ReportPolicyOptions = {}): string {
  return withTestJobs(
    options.jobs ?? [{ jobId: 'rep_ok' }, { jobId: 'rep_flaky' }, { jobId: 'rep_fail' }],
    (policy) => ({
      ...policy,
      retry: { maxAttempts: 2, intervalSeconds: 1, backoffRate: 1, maxDelaySeconds: 1 },
      thresholds: {
        ...policy.thresholds,
        quarantineAfterConsecutiveFailures: 2,
        runLeaseSeconds: options.runLeaseSeconds ?? policy.thresholds.runLeaseSeconds,
      },
      reports: { enabled: options.reportsEnabled ?? true },
      notifications: {
        ...(options.slack ? { slack: { webhookSecretRef: SLACK_REF } } : {}),
        ...(options.github
          ? {
              github: {
                owner: options.github.owner,
                repo: options.github.repo,
                issueNumber: options.github.issueNumber,
                apiBaseUrl: options.github.base,
                tokenSecretRef: GITHUB_REF,
              },
            }
          : {}),
        retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 2000 },
      },
      jobs: {
        ...policy.jobs,
        ...Object.fromEntries(
          REPORT_JOBS.map((jobId) => [
            jobId,
            {
              enabled: options.jobsEnabled ?? true,
              params: {
                postToIssue: options.postToIssue ?? true,
                ...(jobId === 'weekly_improvement_digest'
                  ? {}
                  : { suggestions: { failingStreakRuns: 2, failureRateMinRuns: 2 } }),
              },
            },
          ]),
        ),
      },
    }),
  );
}

/** The local secrets file (OPSRAIL_SECRETS_FILE) with the fakes' webhook URL and token. */
export function writeChannelSecrets(env: HandlerEnv, slack?: FakeSlack, github?: FakeGitHub) {
  writeFileSync(
    env.OPSRAIL_SECRETS_FILE as string,
    JSON.stringify({
      ...(slack ? { [SLACK_REF]: slack.url } : {}),
      ...(github ? { [GITHUB_REF]: github.token } : {}),
    }),
  );
}
