import type { AuditEvent, Diagnostic, GateResults, Quality, Window } from '../../contracts';
import type { RunItem } from './ports';
import { formatInZone } from './schedule';

/**
 * A run's history as the operator reads it (`opsrail runs`, `opsrail show`): pure functions over
 * the state table's run records, so every rule here is tested on the in-memory ports.
 */

/** A run's status in the history: how it ended, or `running` while it is claimed and not sealed. */
export const RUN_HISTORY_STATUSES = ['ok', 'error', 'skipped', 'dry_run', 'running'] as const;
export type RunHistoryStatus = (typeof RUN_HISTORY_STATUSES)[number];

const DURATION_UNITS: Record<string, number> = {
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/**
 * `--since`: an ISO 8601 time with a zone (2026-01-01T00:00:00Z) or a duration back from `now`
 * (30m, 24h, 7d, 2w); the UTC instant it names, or null when it is neither.
 */
export function parseSince(text: string, now: Date): string | null {
  const duration = /^(\d{1,6})([mhdw])$/.exec(text);
  if (duration)
    return new Date(
      now.getTime() - Number(duration[1]) * (DURATION_UNITS[duration[2] as string] as number),
    ).toISOString();
  if (
    !/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text) ||
    Number.isNaN(Date.parse(text))
  )
    return null;
  return new Date(text).toISOString();
}

/**
 * Why a run's quality is not OK, in one line: the error that ended it, else its warnings and
 * errors, else that the job gave no reason (UNKNOWN is never success, and never silent). null for
 * quality OK and for a run still going on.
 */
export function qualityReason(
  quality: Quality | null,
  diagnostics: readonly Diagnostic[],
  error: { kind: string; message: string } | null,
): string | null {
  if (quality === null || quality === 'OK') return null;
  if (error) return `${error.kind}: ${error.message}`;
  const said = diagnostics.filter((d) => d.level !== 'info');
  if (said.length) return said.map((d) => `${d.code}: ${d.message}`).join('; ');
  return `the job reported ${quality} without a warning or error saying why`;
}

/** One line of `opsrail runs`, and its `--json` element. */
export interface RunRow {
  jobRunId: string;
  jobId: string;
  jobVersion: string;
  scheduledTime: string;
  window: Window;
  status: RunHistoryStatus;
  quality: Quality | null;
  qualityReason: string | null;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  attempts: number;
  trigger: string;
  requestedBy: string;
  error: { kind: string; name: string; message: string } | null;
}

export function runRow(item: RunItem): RunRow {
  const sealed = item.sealed;
  const status: RunHistoryStatus = item.summary?.status ?? sealed?.status ?? 'running';
  const quality = item.summary?.quality ?? sealed?.quality ?? null;
  const error = sealed?.error ?? item.summary?.error ?? null;
  return {
    jobRunId: item.jobRunId,
    jobId: item.jobId,
    jobVersion: item.jobVersion,
    scheduledTime: item.scheduledTime,
    window: item.window,
    status,
    quality,
    qualityReason: qualityReason(quality, sealed?.diagnostics ?? [], error),
    startedAt: sealed?.startedAt ?? null,
    endedAt: sealed?.endedAt ?? null,
    durationMs: sealed
      ? Math.max(0, Date.parse(sealed.endedAt) - Date.parse(sealed.startedAt))
      : null,
    attempts: sealed?.attempts ?? item.attempts,
    trigger: item.trigger,
    requestedBy: item.requestedBy,
    error,
  };
}

export interface RunFilter {
  status?: RunHistoryStatus;
}

/** The rows of `opsrail runs`: newest window first (then by job), narrowed by status. */
export function runHistory(items: readonly RunItem[], filter: RunFilter = {}): RunRow[] {
  return items
    .map(runRow)
    .filter((r) => filter.status === undefined || r.status === filter.status)
    .sort((a, b) =>
      a.scheduledTime !== b.scheduledTime
        ? a.scheduledTime < b.scheduledTime
          ? 1
          : -1
        : a.jobId < b.jobId
          ? -1
          : a.jobId > b.jobId
            ? 1
            : 0,
    );
}

/** `1.2s`, `3m 04s`, `2h 05m`; `-` when the run has not ended. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Where times are shown: each job's own zone, with its offset (as `opsrail jobs` shows them), or
 * UTC with --utc. A job no longer in the catalog is shown in UTC.
 */
export type ZoneOf = (jobId: string) => string;

export const showTime = (iso: string | null | undefined, zone: string): string =>
  iso ? formatInZone(new Date(iso), zone) : '-';

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

/** `opsrail runs` as lines: one header, one line per run, then why each not-OK quality is so. */
export function formatRuns(rows: readonly RunRow[], zoneOf: ZoneOf): string[] {
  if (rows.length === 0) return ['no runs'];
  return table([
    ['WINDOW', 'JOB', 'STATUS', 'QUALITY', 'DURATION', 'ATTEMPTS', 'TRIGGER', 'REASON'],
    ...rows.map((r) => [
      `${showTime(r.window.start, zoneOf(r.jobId))} .. ${showTime(r.window.end, zoneOf(r.jobId))}`,
      r.jobId,
      r.status,
      r.quality ?? '-',
      formatDuration(r.durationMs),
      String(r.attempts),
      r.trigger,
      r.qualityReason ?? (r.error ? `${r.error.kind}: ${r.error.message}` : ''),
    ]),
  ]);
}

/** `opsrail show`: one run in plain words, and its `--json`. */
export interface RunDetail extends RunRow {
  stage: string;
  executionId: string;
  claimedAt: string;
  phase: RunItem['phase'];
  pinnedInputs: {
    policySnapshot: RunItem['policySnapshot'];
    jobConfigSha256: string;
    datasetRefs: string[];
    params: RunItem['params'];
    replayPointersRef: string | null;
    jobFunction: string;
  };
  diagnostics: Diagnostic[];
  outputs: string[];
  approval: GateResults | null;
  approvalRequired: boolean;
  evidence: {
    prefix: string;
    manifestKey: string | null;
    chainSequence: number | null;
    manifestSha256: string | null;
    refs: string[];
  };
  timeline: AuditEvent[];
  duplicatesSuppressed: number;
}

const unique = (values: string[]) => [...new Set(values)];

export function runDetail(item: RunItem, duplicates: readonly AuditEvent[] = []): RunDetail {
  const sealed = item.sealed;
  // The run's audit list, then what its sealed outcome adds (a takeover may hold either first).
  const byId = new Map<string, AuditEvent>();
  for (const event of [...item.audit, ...(sealed?.events ?? [])])
    if (!byId.has(event.eventId)) byId.set(event.eventId, event);
  const timeline = [...byId.values()].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  const start = timeline.find((e) => e.type === 'job.run.start');
  return {
    ...runRow(item),
    stage: item.stage,
    executionId: item.executionId,
    claimedAt: item.claimedAt,
    phase: item.phase,
    pinnedInputs: {
      policySnapshot: item.policySnapshot,
      jobConfigSha256: item.jobConfigSha256,
      datasetRefs: item.datasetRefs,
      params: item.params,
      replayPointersRef: start?.inputsRefs?.replayPointersRef ?? null,
      jobFunction: item.jobFunction,
    },
    diagnostics: sealed?.diagnostics ?? [],
    outputs: unique(timeline.flatMap((e) => e.outputsRefs ?? [])),
    approval: sealed?.gate ?? null,
    approvalRequired: item.approvalRequired,
    evidence: {
      prefix: item.evidencePrefix,
      manifestKey: item.summary?.manifestKey ?? item.chain?.manifestKey ?? null,
      chainSequence: item.chain?.sequence ?? null,
      manifestSha256: item.chain?.manifestSha256 ?? null,
      refs: unique(timeline.flatMap((e) => e.evidenceRefs ?? [])),
    },
    timeline,
    duplicatesSuppressed: duplicates.length,
  };
}

/** What an audit event says besides its type, in a few words. */
function eventWords(e: AuditEvent): string {
  const words: string[] = [];
  if (e.status) words.push(`status ${e.status}`);
  if (e.quality) words.push(`quality ${e.quality}`);
  if (e.error) words.push(`${e.error.kind}: ${e.error.message}`);
  if (e.retry) words.push(`retry ${e.retry.count}: ${e.retry.reason}`);
  const by = e.details?.by ?? e.details?.decidedBy;
  if (typeof by === 'string') words.push(`by ${by}`);
  return words.join(', ');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `opsrail show` as lines, times in `zone`. */
export function formatRunDetail(d: RunDetail, zone: string): string[] {
  const t = (iso: string | null | undefined) => showTime(iso, zone);
  const lines = [
    `run ${d.jobRunId}`,
    `  job          ${d.jobId} ${d.jobVersion}, stage ${d.stage}`,
    `  status       ${d.status}${d.quality ? `, quality ${d.quality}` : ''}${d.phase === 'claimed' ? ' (claimed, not finalized yet)' : ''}`,
  ];
  if (d.qualityReason) lines.push(`  why          ${d.qualityReason}`);
  else if (d.error) lines.push(`  error        ${d.error.kind}: ${d.error.message}`);
  lines.push(
    `  window       ${t(d.window.start)} to ${t(d.window.end)} (scheduled ${t(d.scheduledTime)})`,
    `  trigger      ${d.trigger}, requested by ${d.requestedBy}`,
    `  timing       claimed ${t(d.claimedAt)}, started ${t(d.startedAt)}, ended ${t(d.endedAt)} (${formatDuration(d.durationMs)}), ${plural(d.attempts, 'attempt')}`,
    `  execution    ${d.executionId}`,
    'pinned inputs',
    `  policy       ${d.pinnedInputs.policySnapshot.stage} snapshot sha256 ${d.pinnedInputs.policySnapshot.sha256}`,
    `  job config   sha256 ${d.pinnedInputs.jobConfigSha256}`,
    `  datasets     ${d.pinnedInputs.datasetRefs.length ? d.pinnedInputs.datasetRefs.join(', ') : 'none'}`,
    `  params       ${
      Object.keys(d.pinnedInputs.params).length
        ? Object.entries(d.pinnedInputs.params)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(', ')
        : 'none'
    }`,
    `  replay       ${d.pinnedInputs.replayPointersRef ?? 'not pinned'}`,
    `  runs in      ${d.pinnedInputs.jobFunction}`,
  );
  lines.push(`diagnostics${d.diagnostics.length ? '' : '  none'}`);
  for (const diag of d.diagnostics)
    lines.push(`  ${diag.level.padEnd(8)} ${diag.code}: ${diag.message}`);
  const a = d.approval;
  if (a) {
    lines.push(
      `approval     ${a.opKind} ${a.decision}${a.decidedBy ? ` by ${a.decidedBy}` : ''}${a.decidedAt ? ` at ${t(a.decidedAt)}` : ''} (request ${a.approvalId}, requested by ${a.requestedBy}${a.minApprovals ? `, ${a.minApprovals} needed` : ''})`,
    );
    for (const decision of a.decisions ?? [])
      lines.push(
        `  ${decision.decision.padEnd(8)} ${decision.by} at ${t(decision.at)} via ${decision.source}${decision.reason ? `: ${decision.reason}` : ''}`,
      );
    lines.push(
      `  attempts   ${plural(a.attempts.length + (a.attemptsNotStored ?? 0), 'attempt')} recorded`,
    );
  } else
    lines.push(
      `approval     ${d.approvalRequired ? 'required, no decision recorded yet' : 'none (not a dangerous op)'}`,
    );
  lines.push(`outputs${d.outputs.length ? '' : '      none'}`);
  for (const key of d.outputs) lines.push(`  ${key}`);
  lines.push(
    'evidence',
    `  prefix       ${d.evidence.prefix}`,
    `  manifest     ${d.evidence.manifestKey ?? 'not written'}${d.evidence.chainSequence !== null ? ` (chain #${d.evidence.chainSequence}, sha256 ${d.evidence.manifestSha256})` : ''}`,
  );
  for (const key of d.evidence.refs.filter((k) => k !== d.evidence.manifestKey))
    lines.push(`  also         ${key}`);
  lines.push('timeline');
  for (const e of d.timeline) {
    const words = eventWords(e);
    lines.push(
      `  ${t(e.at)}  ${e.type.padEnd(28)} ${e.actor.kind}:${e.actor.id}${words ? `  ${words}` : ''}`,
    );
  }
  if (d.duplicatesSuppressed)
    lines.push(
      `  and ${plural(d.duplicatesSuppressed, 'later delivery')} of this window suppressed (job.run.duplicate_suppressed)`,
    );
  return lines;
}
