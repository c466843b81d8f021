import type {
  ApprovalRecord,
  Diagnostic,
  ExecuteResult,
  JobOutput,
  NotificationRecord,
  RunContext,
  RunSummary,
} from '../../../contracts';
import { approvalIdFor, gateResults } from '../approvals';
import { gateRecord, runEvent } from '../audit';
import { buildBundleObjects, buildManifest, describeObjects } from '../bundle';
import { ContentionError, EvidenceIntegrityError } from '../errors';
import { sha256Hex } from '../hashing';
import { runDurationMs } from '../kpis';
import { objectName, outputName } from '../layout';
import { findJob } from '../policy';
import type {
  BundleBasis,
  ChainLink,
  RunEffect,
  RunItem,
  SealedOutcome,
  StateStore,
} from '../ports';
import { getClaimedRun, type RunDependencies } from './dependencies';

const MAX_CHAIN_ATTEMPTS = 10;

/**
 * Reserves this run's place in its job's hash chain; retried while other runs of the job move the
 * head.
 */
async function linkIntoChain(
  state: StateStore,
  item: RunItem,
  basis: BundleBasis,
  manifestFor: (link: Pick<ChainLink, 'sequence' | 'previous'>) => Uint8Array,
): Promise<ChainLink> {
  for (let attempt = 0; attempt < MAX_CHAIN_ATTEMPTS; attempt++) {
    const head = (await state.getJobState(item.jobId))?.chainHead;
    const sequence = (head?.sequence ?? 0) + 1;
    const previous = head
      ? { key: head.manifestKey, sha256: head.manifestSha256, sequence: head.sequence }
      : null;
    const link: ChainLink = {
      sequence,
      previous,
      manifestKey: `${item.evidencePrefix}${objectName('manifest', item.window.start)}`,
      manifestSha256: sha256Hex(manifestFor({ sequence, previous })),
      basis,
    };
    const outcome = await state.linkChain(item.jobId, item.jobRunId, head?.sequence ?? 0, link);
    if (outcome === 'linked') return link;
    if (outcome === 'already')
      return (await getClaimedRun(state, item.jobRunId)).chain as ChainLink;
  }
  throw new ContentionError(item.jobRunId, "the job's evidence chain");
}

/**
 * Finalize and the failure paths: seals the outcome, writes the bundle write-once (objects first,
 * manifest last) and updates the job state. Every part is safe to repeat: a retried call finishes
 * what an earlier one began, with the same bytes.
 */
export async function closeRun(
  deps: Pick<RunDependencies, 'state' | 'evidence' | 'codeVersion' | 'redactor' | 'metrics'>,
  jobRunId: string,
  proposed: SealedOutcome,
  outputs: JobOutput[],
): Promise<RunSummary> {
  const item = await getClaimedRun(deps.state, jobRunId);
  if (item.summary) return item.summary;
  const sealed =
    item.sealed ?? (await deps.state.sealOutcome(jobRunId, deps.redactor.value(proposed)));
  // Outputs of a run that did not succeed are not trusted evidence: a failed or refused run's
  // bundle carries none.
  const trusted = sealed.status === 'ok' || sealed.status === 'dry_run' ? outputs : [];
  // A takeover changes the run item (executionId, a retry event) after the first attempt may have
  // reserved its link: the bundle is built from what the link froze, so every attempt writes its
  // bytes.
  const bundleOf = (basis: BundleBasis) => {
    const frozen: RunItem = {
      ...item,
      executionId: basis.executionId,
      audit: item.audit.slice(0, basis.auditCount),
    };
    // Every object but the manifest passes the redactor once more on its way out (it is
    // deterministic, so retries match).
    const objects = buildBundleObjects(
      frozen,
      sealed,
      trusted,
      basis.codeVersion,
      deps.redactor,
    ).map((o) => ({
      ...o,
      body: new TextEncoder().encode(deps.redactor.text(new TextDecoder().decode(o.body))),
    }));
    const described = describeObjects(objects);
    return {
      objects,
      manifestFor: (link: Pick<ChainLink, 'sequence' | 'previous'>) =>
        buildManifest(frozen, described, link, sealed.endedAt),
    };
  };
  const current: BundleBasis = {
    executionId: item.executionId,
    auditCount: item.audit.length,
    codeVersion: deps.codeVersion,
  };
  const link =
    item.chain ??
    (await linkIntoChain(deps.state, item, current, (l) => bundleOf(current).manifestFor(l)));
  const { objects, manifestFor } = bundleOf(link.basis ?? current);
  const manifest = manifestFor(link);
  try {
    if (sha256Hex(manifest) !== link.manifestSha256) {
      throw new EvidenceIntegrityError(
        `run ${jobRunId}: the bundle this attempt would write does not match the manifest hash its chain link reserved (${link.manifestSha256}); nothing written`,
        link.manifestKey,
      );
    }
    for (const object of objects)
      await deps.evidence.putObject(
        `${item.evidencePrefix}${object.name}`,
        object.body,
        object.contentType,
      );
    await deps.evidence.putObject(link.manifestKey, manifest, 'application/json');
  } catch (error) {
    if (error instanceof EvidenceIntegrityError)
      await recordIntegrityFinding(deps.state, item, error, sealed.endedAt);
    throw error;
  }
  const summary: RunSummary = {
    jobRunId,
    jobId: item.jobId,
    status: sealed.status,
    quality: sealed.quality,
    evidencePrefix: item.evidencePrefix,
    manifestKey: link.manifestKey,
    error: sealed.error,
  };
  if (!(await deps.state.completeRun(summary, sealed.endedAt, sealed.effect, item.exclusive)))
    return (await getClaimedRun(deps.state, jobRunId)).summary ?? summary;
  // Once per run: only the call that completed it reports it.
  deps.metrics.record({
    jobId: item.jobId,
    succeeded: sealed.effect.kind === 'success',
    failed: sealed.effect.kind === 'failure',
    refused: sealed.status === 'skipped',
    errorKind: sealed.error?.kind ?? null,
    attempts: sealed.attempts,
    durationMs: runDurationMs(sealed.startedAt, sealed.endedAt),
    quarantineEntered: sealed.effect.kind === 'failure' && sealed.effect.quarantine !== null,
  });
  return summary;
}

/**
 * An integrity finding on the run's own evidence, on its audit in the state table (once per key).
 */
async function recordIntegrityFinding(
  state: StateStore,
  item: RunItem,
  error: EvidenceIntegrityError,
  at: string,
): Promise<void> {
  const suffix = `evidence-conflict-${sha256Hex(error.key).slice(0, 16)}`;
  const event = runEvent(item, 'integrity.record', at, {
    eventIdSuffix: suffix,
    quality: 'DEGRADED',
    evidenceRefs: [error.key],
    details: { finding: 'evidence_conflict', message: error.message },
  });
  if (item.audit.some((e) => e.eventId === event.eventId)) return;
  await state.appendAudit(item.jobRunId, [event]).catch(() => undefined);
}

export async function finalizeRun(
  deps: Pick<
    RunDependencies,
    'policy' | 'state' | 'evidence' | 'codeVersion' | 'redactor' | 'metrics' | 'approvals'
  >,
  run: RunContext,
  result: ExecuteResult,
): Promise<RunSummary> {
  const job = findJob(deps.policy, run.jobId);
  const approval = run.approvalRequired
    ? await deps.approvals.getApproval(approvalIdFor(run))
    : undefined;
  // What the run told people: the approval request, then the job's own notifications. One that
  // reached only the log makes the run DEGRADED (docs/notifications.md#in-the-evidence).
  const notifications = runNotifications(approval?.record, result.notifications);
  const degraded = notifications.filter((record) => record.degraded);
  const quality = degraded.length > 0 && result.quality === 'OK' ? 'DEGRADED' : result.quality;
  const events = [];
  if (result.integrityReport) {
    events.push(
      runEvent(run, 'integrity.record', result.endedAt, {
        quality: result.integrityReport.status,
        evidenceRefs: [`${run.evidencePrefix}${objectName('integrity_report', run.window.start)}`],
        details: {
          checked: result.integrityReport.checked,
          findings: result.integrityReport.findings.length,
          datasets: job?.capabilities.datasets ?? [],
        },
      }),
    );
  }
  events.push(
    runEvent(run, 'job.run.end', result.endedAt, {
      status: result.status,
      quality,
      outputsRefs: result.outputs.map(
        (o) => `${run.evidencePrefix}${outputName(run.window.start, o.name, o.table)}`,
      ),
      evidenceRefs: [`${run.evidencePrefix}${objectName('manifest', run.window.start)}`],
    }),
  );
  if (approval) events.unshift(gateRecord(run, approval, result.endedAt));
  // Only a completed run with quality OK is a success; DEGRADED or UNKNOWN never is
  // (docs/safety-rules.md#quality).
  const effect: RunEffect = quality === 'OK' ? { kind: 'success' } : { kind: 'neutral' };
  const outcome: SealedOutcome = {
    status: result.status,
    quality,
    startedAt: result.startedAt,
    endedAt: result.endedAt,
    attempts: result.attempts,
    diagnostics: [
      ...result.diagnostics,
      ...degraded.map((record) => deps.redactor.value(notificationDegraded(record))),
    ],
    error: null,
    integrityReport: result.integrityReport,
    events,
    effect,
    gate: approval ? gateResults(approval) : null,
    ...(notifications.length > 0 ? { notifications: deps.redactor.value(notifications) } : {}),
  };
  const summary = await closeRun(deps, run.jobRunId, outcome, result.outputs);
  // A validation job's verdict is the integrity of the datasets it validates
  // (docs/safety-rules.md#dataset-integrity).
  if (job && job.jobClass === 'VALIDATION' && result.integrityReport) {
    const status =
      result.integrityReport.status === 'OK'
        ? 'OK'
        : result.integrityReport.status === 'DEGRADED'
          ? 'FAIL'
          : 'UNKNOWN';
    for (const datasetId of job.capabilities.datasets) {
      await deps.state.setDatasetIntegrity({
        schemaVersion: 1,
        datasetId,
        status,
        recordedBy: run.jobRunId,
        recordedAt: result.endedAt,
      });
    }
  }
  return summary;
}

/** A run's notifications for its bundle: its approval request's (if any), then the job's own. */
export function runNotifications(
  approval: Pick<ApprovalRecord, 'notification'> | undefined,
  sent: NotificationRecord[] | undefined,
): NotificationRecord[] {
  return [...(approval?.notification ? [approval.notification] : []), ...(sent ?? [])];
}

/** The diagnostic of a notification that got no further than the log. */
export function notificationDegraded(record: NotificationRecord): Diagnostic {
  const failed = record.attempts
    .filter((a) => a.status === 'failed')
    .map((a) => `${a.channel}: ${a.error ?? 'failed'}`)
    .join('; ');
  return {
    level: 'warning',
    code: 'notification_degraded',
    message: `${record.kind} ${record.dedupe_key} reached only the log (${failed})`,
  };
}
