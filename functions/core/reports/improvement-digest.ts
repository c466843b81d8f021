import type {
  AuditEvent,
  DigestIncident,
  ImprovementDigest,
  ReportPeriod,
  Stage,
} from '../../../contracts';
import type { RunItem } from '../ports';
import type { Redactor } from '../redaction';
import { mdText, oneLine } from '../markdown';
import { outcomeOf, sealedRunsIn } from './period';

/**
 * The weekly improvement digest (docs/reports.md#the-improvement-digest): pure, from the week's run
 * records and control events to the digest's JSON, and from the JSON to its Markdown.
 */
export interface DigestInput {
  stage: Stage;
  period: ReportPeriod;
  jobRunId: string;
  asOf: string;
  /** The stage's run records since the period's start (at least). */
  runs: readonly RunItem[];
  /** The stage's control events with their evidence keys (kill_switch.engage is an incident). */
  controlEvents: readonly { key: string; event: AuditEvent }[];
  topCauses: number;
  evidencePerCause: number;
  redactor: Redactor;
}

/**
 * The suggested improvement per cause (docs/reports.md#causes-and-suggestions), by the error kind
 * of a failure or refusal, or the incident type.
 */
const SUGGESTIONS: Record<string, string> = {
  'failure: dependency':
    'A dependency failed (5xx, connection) after the retries: check its health and SLO; if it recovers within minutes, raise retry.maxAttempts or intervalSeconds in the stage policy, otherwise fix it at its source.',
  'failure: throttling':
    'A dependency throttled the job (429) past its retries: lower the job’s request rate or frequency, or ask for a higher quota.',
  'failure: timeout':
    'Runs timed out: find what got slower (see the p95 in the observability report), make the job do less per run, or raise its timeout.',
  'failure: permission':
    'The job lacked a permission: grant exactly what it needs in its catalog entry (capabilities or iam, docs/writing-a-job.md#permissions); permission errors are never retried.',
  'failure: configuration':
    'A configuration is wrong or missing (a secret_ref, a parameter): fix the catalog or stage policy; it fails every run until then.',
  'failure: validation':
    'Input or a dependency’s answer was refused as invalid (4xx): fix the job’s parameters or the data; validation errors are never retried.',
  'failure: not_found':
    'Something the job reads does not exist (404): fix the name or create it; not-found errors are never retried.',
  'failure: unknown_outcome':
    'A run’s holder died mid-job and the job is not idempotent, so its effect is unknown: check the effect by hand, and make the job idempotent so such runs can be re-run.',
  'failure: stopped':
    'Runs were stopped (a kill-switch, a state timeout): see the kill-switches and the runs’ durations.',
  'failure: bookkeeping':
    'opsrail’s own stores (state, idempotency, evidence) failed: check DynamoDB and S3 throttling and errors; these are never the job’s fault.',
  quarantine:
    'Jobs were quarantined after consecutive failures: fix the failure cause named in the quarantine, then release it with quarantine_release (approved).',
  kill_switch:
    'Kill-switches were engaged: review each reason, fix what made stopping necessary, then release with kill_switch_release (approved).',
  'refused: refused_safety':
    'Runs were refused by the stage’s safety mode: relax it with safety_relax once the incident that raised it is over.',
  'refused: refused_kill_switch':
    'Runs were refused by an engaged kill-switch: release it once the cause is fixed, or disable the job while it stays engaged.',
  'refused: refused_quarantine':
    'Runs of quarantined jobs were refused: release the quarantine after fixing the cause, or disable the job.',
  'refused: refused_integrity':
    'Runs were refused because a dataset’s integrity is FAIL or UNKNOWN: repair the dataset (a job that declares it in capabilities.repairs).',
  'refused: approval_rejected':
    'Dangerous operations were rejected by their approvers: read why, and change the plan or the schedule before asking again.',
  'refused: approval_timed_out':
    'Approvals timed out with nobody deciding: check who is on the approver list and that the requests reach them (e-mail, Slack).',
  'refused: inputs_unpinned':
    'Runs named a dataset the stage’s data catalog does not list: add it to the stage policy’s datasets or fix the job.',
  'refused: plan_changed':
    'What a dangerous job would do changed after it was approved: find out why its inputs moved between approval and execution.',
};

export const suggestionFor = (cause: string): string =>
  SUGGESTIONS[cause] ??
  'Read the cited runs’ evidence for the common factor; fix it at its source, and add a check or alert that would have caught it sooner.';

interface Incident extends DigestIncident {
  cause: string;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const within = (at: string, period: ReportPeriod) =>
  Date.parse(at) >= Date.parse(period.start) && Date.parse(at) < Date.parse(period.end);
const iso = (at: string) => new Date(at).toISOString();

/** The week's incidents, each with its cause, in time order. */
export function incidentsOf(input: DigestInput): Incident[] {
  const { period, redactor } = input;
  const incidents: Incident[] = [];
  for (const run of sealedRunsIn(input.runs, period, input.asOf)) {
    const outcome = outcomeOf(run);
    const error = run.sealed.error;
    const ref = run.summary?.manifestKey ?? null;
    if (outcome === 'failed' || outcome === 'refused') {
      const kind = error?.kind ?? 'internal';
      incidents.push({
        type: outcome === 'failed' ? 'failed_run' : 'refused',
        cause: `${outcome === 'failed' ? 'failure' : 'refused'}: ${kind}`,
        job_id: run.jobId,
        job_run_id: run.jobRunId,
        at: iso(run.sealed.endedAt),
        detail: redactor.text(
          oneLine(error ? `${error.kind}: ${error.message}` : 'no error recorded'),
        ),
        evidence_ref: ref,
      });
    }
    for (const event of run.sealed.events)
      if (event.type === 'job.run.quarantine.enter')
        incidents.push({
          type: 'quarantine',
          cause: 'quarantine',
          job_id: run.jobId,
          job_run_id: run.jobRunId,
          at: iso(event.at),
          detail: redactor.text(
            oneLine(
              `quarantined: ${String((event.details as { reason?: unknown })?.reason ?? '')}`,
            ),
          ),
          evidence_ref: ref,
        });
  }
  const seen = new Set<string>();
  for (const { key, event } of input.controlEvents) {
    if (event.type !== 'kill_switch.engage' || !within(event.at, period) || seen.has(event.eventId))
      continue;
    if (Date.parse(event.at) > Date.parse(input.asOf)) continue;
    seen.add(event.eventId);
    const details = event.details as { scope?: unknown; reason?: unknown } | undefined;
    incidents.push({
      type: 'kill_switch',
      cause: 'kill_switch',
      job_id: event.jobId ?? null,
      job_run_id: null,
      at: iso(event.at),
      detail: redactor.text(
        oneLine(
          `kill-switch ${String(details?.scope ?? event.jobId ?? 'global')} engaged by ${event.actor.id}: ${String(details?.reason ?? '')}`,
        ),
      ),
      evidence_ref: key,
    });
  }
  return incidents.sort(
    (a, b) => byText(a.at, b.at) || byText(a.job_run_id ?? '', b.job_run_id ?? ''),
  );
}

export function buildImprovementDigest(input: DigestInput): ImprovementDigest {
  const incidents = incidentsOf(input);
  const groups = new Map<string, Incident[]>();
  for (const incident of incidents)
    groups.set(incident.cause, [...(groups.get(incident.cause) ?? []), incident]);
  const causes = [...groups.entries()]
    .sort(([a, x], [b, y]) => y.length - x.length || byText(a, b))
    .map(([cause, list]) => ({
      cause,
      count: list.length,
      jobs: [...new Set(list.flatMap((i) => (i.job_id ? [i.job_id] : [])))].sort(),
      list,
    }));
  const countOf = (type: Incident['type']) => incidents.filter((i) => i.type === type).length;
  return input.redactor.value({
    schema_version: 1,
    report: 'weekly_improvement_digest',
    stage: input.stage,
    period: input.period,
    job_run_id: input.jobRunId,
    as_of: input.asOf,
    incidents: {
      total: incidents.length,
      failed_runs: countOf('failed_run'),
      quarantines: countOf('quarantine'),
      kill_switches: countOf('kill_switch'),
      refused: countOf('refused'),
    },
    causes: causes.map(({ cause, count, jobs }) => ({ cause, count, jobs })),
    top_causes: causes.slice(0, input.topCauses).map(({ cause, count, jobs, list }) => ({
      cause,
      count,
      jobs,
      // The latest incidents first: the freshest evidence of the cause.
      evidence: list
        .slice()
        .reverse()
        .slice(0, input.evidencePerCause)
        .map(({ cause: _cause, ...incident }) => incident),
      suggestion: suggestionFor(cause),
    })),
  });
}

export const digestTitle = (digest: ImprovementDigest): string =>
  `Weekly improvement digest: ${digest.stage}, ${digest.period.label} (${digest.period.zone})`;

/** The digest for people: the same content as its JSON, in Markdown. */
export function renderDigestMarkdown(digest: ImprovementDigest): string {
  const n = digest.incidents;
  const lines = [
    `# ${mdText(digestTitle(digest))}`,
    '',
    `Period ${digest.period.start} .. ${digest.period.end} (UTC). Runs sealed by ${digest.as_of}.`,
    '',
    `Incidents: ${n.total} (failed runs ${n.failed_runs}, quarantines ${n.quarantines}, kill-switches ${n.kill_switches}, refused runs ${n.refused}).`,
    '',
    '## Causes',
    '',
  ];
  if (digest.causes.length === 0) lines.push('No incidents this week.');
  else
    lines.push(
      '| cause | incidents | jobs |',
      '|---|---:|---|',
      ...digest.causes.map(
        (c) => `| ${mdText(c.cause)} | ${c.count} | ${c.jobs.map(mdText).join(', ') || '-'} |`,
      ),
    );
  digest.top_causes.forEach((c, i) => {
    lines.push(
      '',
      `## ${i + 1}. ${mdText(c.cause)} (${c.count})`,
      '',
      `Suggested improvement: ${mdText(c.suggestion)}`,
      '',
      'Evidence:',
    );
    for (const e of c.evidence)
      lines.push(
        `- ${e.at} ${e.job_id ? mdText(e.job_id) : 'stage'}: ${mdText(e.detail)}${e.evidence_ref ? ` (${mdText(e.evidence_ref)})` : ''}`,
      );
  });
  return `${lines.join('\n')}\n`;
}
