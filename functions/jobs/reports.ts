import {
  AuditEvent,
  type Diagnostic,
  ImprovementDigest,
  ImprovementDigestParams,
  type NotificationRecord,
  ObservabilityReport,
  ObservabilityReportParams,
  type ReportJobId,
  type ReportPeriod,
} from '../../contracts';
import { statusReport } from '../core/controls';
import { utcDays } from '../core/evidence-tables';
import { canonicalJson } from '../core/hashing';
import { controlEventsPrefix } from '../core/ids';
import type { Notification } from '../core/notifications';
import {
  buildImprovementDigest,
  digestTitle,
  renderDigestMarkdown,
} from '../core/reports/improvement-digest';
import {
  buildObservabilityReport,
  observabilityTitle,
  renderObservabilityMarkdown,
} from '../core/reports/observability-report';
import { previousPeriod, reportPeriod } from '../core/reports/period';
import type { JobContext, JobImplementation, JobResult } from './types';

/**
 * The routine report jobs (docs/reports.md): daily_observability_report,
 * weekly_observability_report and weekly_improvement_digest. Each covers its run's calendar window
 * (the previous day or ISO week in the job's time zone), so a duplicate tick or a restart is the
 * same run: one report per window. Posting goes through the notification chain with a dedupe key
 * per job and window, so a re-run or a takeover never posts twice.
 */

/** Which of the two switches are off (docs/reports.md#switches); none: the job reports. */
export function switchesOff(context: Pick<JobContext, 'policy' | 'job'>): string[] {
  const off: string[] = [];
  const { settings, stage } = context.policy;
  if (!settings.reports.enabled) off.push(`reports.enabled is false in stage ${stage}`);
  if (settings.jobs[context.job.jobId]?.enabled !== true)
    off.push(`jobs.${context.job.jobId}.enabled is not true in stage ${stage}`);
  return off;
}

/** The notification's dedupe key: one per job, stage and window, across re-runs and takeovers. */
export const reportDedupeKey = (jobId: ReportJobId, period: ReportPeriod, stage: string): string =>
  `${jobId}/${stage}/${period.label}`;

/** What posting did, kept in the bundle as posting.json. */
export interface PostingRecord {
  postToIssue: boolean;
  dedupe_key: string;
  notification: NotificationRecord | null;
}

function offResult(context: JobContext, off: string[]): JobResult {
  const message = `${context.job.jobId} is switched off (${off.join('; ')}): no report was written and nothing was posted`;
  context.log(message);
  return {
    quality: 'OK',
    outputs: [],
    integrityReport: null,
    diagnostics: [{ level: 'info', code: 'reports_off', message }],
  };
}

async function publish(
  context: JobContext,
  postToIssue: boolean,
  notification: Notification,
  files: { json: string; md: string; body: unknown; markdown: string },
): Promise<JobResult> {
  // postToIssue off: the chain is not called at all; on, the report goes to every configured
  // channel, the team's Slack and the GitHub issue alike (docs/reports.md#posting).
  const record = postToIssue ? await context.notify({ ...notification, deliver: 'every' }) : null;
  const posting: PostingRecord = {
    postToIssue,
    dedupe_key: notification.dedupeKey,
    notification: record,
  };
  const diagnostics: Diagnostic[] = [
    {
      level: 'info',
      code: 'posting',
      message: record
        ? `posted via ${record.delivered_via ?? 'nothing'} (${record.attempts.map((a) => `${a.channel} ${a.status}`).join(', ')})`
        : 'postToIssue is false: not posted',
    },
  ];
  if (record?.degraded)
    diagnostics.push({
      level: 'warning',
      code: 'posting_degraded',
      message: `a configured channel failed for the ${notification.kind} (first delivered via ${record.delivered_via ?? 'no channel'}): ${record.attempts
        .filter((a) => a.status === 'failed')
        .map((a) => `${a.channel}: ${a.error ?? 'failed'}`)
        .join('; ')}`,
    });
  return {
    quality: record?.degraded ? 'DEGRADED' : 'OK',
    outputs: [
      { name: files.json, contentType: 'application/json', body: `${canonicalJson(files.body)}\n` },
      { name: files.md, contentType: 'text/markdown; charset=utf-8', body: files.markdown },
      {
        name: 'posting.json',
        contentType: 'application/json',
        body: `${canonicalJson(posting)}\n`,
      },
    ],
    integrityReport: null,
    diagnostics,
  };
}

function observabilityJob(
  jobId: 'daily_observability_report' | 'weekly_observability_report',
  kind: 'day' | 'week',
): JobImplementation {
  return {
    jobId,
    params: ObservabilityReportParams,
    async run(context) {
      const off = switchesOff(context);
      if (off.length) return offResult(context, off);
      const params = ObservabilityReportParams.parse({
        ...context.job.params,
        ...context.run.params,
      });
      const period = reportPeriod(kind, context.run.window, context.job.schedule.timezone);
      const runs = await context.state.listRuns({ since: previousPeriod(period).start });
      const status = await statusReport(context.control);
      const report = ObservabilityReport.parse(
        buildObservabilityReport({
          report: jobId,
          stage: context.run.stage,
          period,
          jobRunId: context.run.jobRunId,
          asOf: context.run.claimedAt,
          generatedAt: context.clock.now().toISOString(),
          runs,
          status,
          thresholds: params.suggestions,
          redactor: context.control.redactor,
        }),
      );
      const markdown = context.control.redactor.text(renderObservabilityMarkdown(report));
      return publish(
        context,
        params.postToIssue,
        {
          kind: 'report',
          dedupeKey: reportDedupeKey(jobId, period, context.run.stage),
          title: observabilityTitle(report),
          markdown,
        },
        {
          json: 'observability_report.json',
          md: 'observability_report.md',
          body: report,
          markdown,
        },
      );
    },
  };
}

/** The stage's control events (docs/evidence.md) of `type` on the UTC days the period touches. */
async function controlEvents(
  context: JobContext,
  period: ReportPeriod,
  type: string,
): Promise<{ key: string; event: AuditEvent }[]> {
  const out: { key: string; event: AuditEvent }[] = [];
  for (const day of utcDays(Date.parse(period.start), Date.parse(period.end))) {
    for (const key of await context.evidence.list(controlEventsPrefix(context.run.stage, day))) {
      if (!key.includes(`-${type}-`)) continue;
      const bytes = await context.evidence.getObject(key);
      if (!bytes) continue;
      const event = AuditEvent.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
      if (event.success) out.push({ key, event: event.data });
    }
  }
  return out;
}

export const weeklyImprovementDigest: JobImplementation = {
  jobId: 'weekly_improvement_digest',
  params: ImprovementDigestParams,
  async run(context) {
    const off = switchesOff(context);
    if (off.length) return offResult(context, off);
    const params = ImprovementDigestParams.parse({ ...context.job.params, ...context.run.params });
    const period = reportPeriod('week', context.run.window, context.job.schedule.timezone);
    const digest = ImprovementDigest.parse(
      buildImprovementDigest({
        stage: context.run.stage,
        period,
        jobRunId: context.run.jobRunId,
        asOf: context.run.claimedAt,
        runs: await context.state.listRuns({ since: period.start }),
        controlEvents: await controlEvents(context, period, 'kill_switch.engage'),
        topCauses: params.topCauses,
        evidencePerCause: params.evidencePerCause,
        redactor: context.control.redactor,
      }),
    );
    const markdown = context.control.redactor.text(renderDigestMarkdown(digest));
    return publish(
      context,
      params.postToIssue,
      {
        kind: 'digest',
        dedupeKey: reportDedupeKey('weekly_improvement_digest', period, context.run.stage),
        title: digestTitle(digest),
        markdown,
      },
      { json: 'improvement_digest.json', md: 'improvement_digest.md', body: digest, markdown },
    );
  },
};

export const dailyObservabilityReport = observabilityJob('daily_observability_report', 'day');
export const weeklyObservabilityReport = observabilityJob('weekly_observability_report', 'week');
