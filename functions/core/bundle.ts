import type {
  EvidenceManifest,
  JobOutput,
  Lineage,
  ManifestObject,
  NotificationEvidence,
  ReplayPointers,
  RunContext,
  RunRecord,
  IntegrityReport,
} from '../../contracts';
import { objectName, outputName } from './layout';
import type { ChainLink, RunItem, SealedOutcome } from './ports';
import { canonicalJson, sha256Hex } from './hashing';
import { runDurationMs } from './kpis';
import type { Redactor } from './redaction';
import { buildTicket, ticketMarkdown } from './tickets';

export interface BundleObject {
  name: string;
  contentType: string;
  body: Uint8Array;
}

const encoder = new TextEncoder();
/**
 * One line per JSON document (Athena's JSON SerDe reads a record per line), keys sorted: what the
 * state table gives back has its own key order, and a retry or takeover must write the same bytes.
 */
const json = (value: unknown): Uint8Array => encoder.encode(`${canonicalJson(value)}\n`);

/**
 * Every object of a run's bundle except the manifest. A pure function of what is stored about the
 * run, so a retried Finalize produces the same bytes and write-once storage accepts the retry as a
 * no-op. A failed run's bundle also holds its audit ticket (docs/evidence.md#tickets).
 */
export function buildBundleObjects(
  item: RunItem,
  sealed: SealedOutcome,
  outputs: JobOutput[],
  codeVersion: string,
  redactor: Redactor,
): BundleObject[] {
  const run: RunContext = item;
  const at = run.window.start;
  const outputObjects: BundleObject[] = outputs.map((o) => ({
    name: outputName(at, o.name, o.table),
    contentType: o.contentType,
    body: encoder.encode(o.body),
  }));
  const replayPointers: ReplayPointers = {
    schemaVersion: 1,
    jobId: run.jobId,
    jobVersion: run.jobVersion,
    jobRunId: run.jobRunId,
    scheduledTime: run.scheduledTime,
    window: run.window,
    datasetRefs: run.datasetRefs,
    policySnapshot: run.policySnapshot,
    jobConfigSha256: run.jobConfigSha256,
    codeVersion,
    trigger: run.trigger,
    executionId: run.executionId,
  };
  const integrityReport: IntegrityReport = sealed.integrityReport ?? {
    schemaVersion: 1,
    jobRunId: run.jobRunId,
    generatedAt: sealed.endedAt,
    status: sealed.quality,
    subject: 'run',
    checked: { bundles: 0, objects: outputObjects.length },
    bundles: [],
    findings: [],
  };
  const runRecord: RunRecord = {
    schemaVersion: 1,
    stage: run.stage,
    jobId: run.jobId,
    jobVersion: run.jobVersion,
    jobRunId: run.jobRunId,
    scheduledTime: run.scheduledTime,
    window: run.window,
    trigger: run.trigger,
    executionId: run.executionId,
    status: sealed.status,
    quality: sealed.quality,
    startedAt: sealed.startedAt,
    endedAt: sealed.endedAt,
    duration_ms: runDurationMs(sealed.startedAt, sealed.endedAt),
    attempts: sealed.attempts,
    artefacts: outputObjects.map((o) => ({
      name: o.name,
      sha256: sha256Hex(o.body),
      size: o.body.byteLength,
    })),
    diagnostics: sealed.diagnostics,
    error: sealed.error,
    policySnapshot: run.policySnapshot,
  };
  const lineage: Lineage = {
    schemaVersion: 1,
    inputDatasetIds: run.datasetRefs,
    outputDatasetId: run.outputDatasetId,
    transformId: run.jobId,
    transformVersion: run.jobVersion,
    jobRunId: run.jobRunId,
    window: run.window,
    policySnapshot: run.policySnapshot,
    replayPointersRef: `${run.evidencePrefix}${objectName('replay_pointers', at)}`,
  };
  const audit = [...item.audit, ...sealed.events];
  const objects: BundleObject[] = [
    {
      name: objectName('audit', at),
      contentType: 'application/x-ndjson',
      body: encoder.encode(`${audit.map((e) => canonicalJson(e)).join('\n')}\n`),
    },
    {
      name: objectName('replay_pointers', at),
      contentType: 'application/json',
      body: json(replayPointers),
    },
    {
      name: objectName('integrity_report', at),
      contentType: 'application/json',
      body: json(integrityReport),
    },
    { name: objectName('run_record', at), contentType: 'application/json', body: json(runRecord) },
    { name: objectName('lineage', at), contentType: 'application/json', body: json(lineage) },
    ...(sealed.gate
      ? [
          {
            name: objectName('gate_results', at),
            contentType: 'application/json',
            body: json(sealed.gate),
          },
        ]
      : []),
    ...(sealed.notifications?.length
      ? [
          {
            name: objectName('notifications', at),
            contentType: 'application/json',
            body: json({
              schemaVersion: 1,
              jobRunId: run.jobRunId,
              notifications: sealed.notifications,
            } satisfies NotificationEvidence),
          },
        ]
      : []),
    ...outputObjects,
  ];
  return sealed.status === 'error' && sealed.error
    ? [...objects, ...ticketObjects(run, sealed, sealed.error, objects, redactor)]
    : objects;
}

/**
 * The ticket of a failed run, as JSON and Markdown: it refers to every other object of the bundle
 * and to its manifest.
 */
function ticketObjects(
  run: RunContext,
  sealed: SealedOutcome,
  error: NonNullable<SealedOutcome['error']>,
  others: BundleObject[],
  redactor: Redactor,
): BundleObject[] {
  const at = run.window.start;
  const ticket = buildTicket(
    {
      run,
      error,
      step: sealed.failedStep ?? 'unknown',
      attempts: sealed.attempts,
      endedAt: sealed.endedAt,
      quarantined: sealed.effect.kind === 'failure' && sealed.effect.quarantine !== null,
      evidenceRefs: [...others.map((o) => o.name), objectName('manifest', at)].map(
        (name) => `${run.evidencePrefix}${name}`,
      ),
    },
    redactor,
  );
  return [
    { name: objectName('ticket', at), contentType: 'application/json', body: json(ticket) },
    {
      name: objectName('ticket_md', at),
      contentType: 'text/markdown; charset=utf-8',
      body: encoder.encode(ticketMarkdown(ticket)),
    },
  ];
}

export function describeObjects(objects: BundleObject[]): ManifestObject[] {
  return objects.map((o) => ({
    name: o.name,
    sha256: sha256Hex(o.body),
    size: o.body.byteLength,
    contentType: o.contentType,
  }));
}

export function buildManifest(
  run: RunContext,
  objects: ManifestObject[],
  link: Pick<ChainLink, 'sequence' | 'previous'>,
  createdAt: string,
): Uint8Array {
  const manifest: EvidenceManifest = {
    schemaVersion: 1,
    stage: run.stage,
    jobId: run.jobId,
    jobVersion: run.jobVersion,
    jobRunId: run.jobRunId,
    sequence: link.sequence,
    window: run.window,
    policySnapshot: run.policySnapshot,
    createdAt,
    prefix: run.evidencePrefix,
    objects,
    previousManifest: link.previous,
  };
  return json(manifest);
}
