import { EvidenceIntegrityCheckParams, type IntegrityReport, type Quality } from '../../contracts';
import { checkBundleObjects, loadManifest, openRunManifests, type Problem } from '../core/verify';
import type { JobContext, JobImplementation, JobResult } from './types';

type BundleResult = IntegrityReport['bundles'][number];

/**
 * Walks each job's hash chain back from its head (kept in the state table), re-reading the most
 * recent bundles with the same checks as `opsrail verify`: every object's SHA-256 and size against
 * its manifest, every manifest against the hash the next link (or the head) recorded for it, and
 * the sequence numbers between them.
 */
async function checkEvidence(context: JobContext): Promise<JobResult> {
  const { bundlesPerJob } = EvidenceIntegrityCheckParams.parse(context.job.params);
  const problems: Problem[] = [];
  const bundles: BundleResult[] = [];
  let objectsChecked = 0;
  const inFlight = new Set<string>();
  const readInFlight = async () => {
    for (const r of await openRunManifests(
      context.policy.stage,
      context.state,
      context.clock.now(),
    ))
      if (r.inFlight) inFlight.add(r.manifestKey);
  };
  await readInFlight();
  // A run claimed after the list above may have linked itself as a head since (catch-up runs in
  // parallel): a manifest not written yet is looked up among the open runs again before it counts.
  const inFlightNow = async (key: string) => {
    if (!inFlight.has(key)) await readInFlight();
    return inFlight.has(key);
  };

  for (const job of context.policy.jobs) {
    const head = (await context.state.getJobState(job.jobId))?.chainHead;
    let expected: { key: string; sha256: string; sequence: number } | null = head
      ? { key: head.manifestKey, sha256: head.manifestSha256, sequence: head.sequence }
      : null;
    if (
      head &&
      !(await context.evidence.getObject(head.manifestKey)) &&
      (await inFlightNow(head.manifestKey))
    ) {
      // Its run is being finalized (the manifest is written last): start from the link before it.
      expected = head.previous;
    }
    for (let walked = 0; expected && walked < bundlesPerJob; walked++) {
      // A run being finalized out of order (catch-up runs in parallel) may be linked and not yet
      // written: the chain cannot be followed past it now, which is not a finding.
      if (
        walked > 0 &&
        !(await context.evidence.getObject(expected.key)) &&
        (await inFlightNow(expected.key))
      )
        break;
      const before = problems.length;
      const bundle: BundleResult = {
        jobId: job.jobId,
        jobRunId: '',
        manifestKey: expected.key,
        sequence: expected.sequence,
        status: 'OK',
      };
      bundles.push(bundle);
      const loaded = await loadManifest(context.evidence, expected.key, problems);
      if (!loaded) {
        bundle.status = 'DEGRADED';
        break; // the chain cannot be followed past a missing or unreadable manifest
      }
      const { manifest } = loaded;
      bundle.jobRunId = manifest.jobRunId;
      if (loaded.sha256 !== expected.sha256)
        problems.push({
          kind: 'hash_mismatch',
          key: expected.key,
          detail: `manifest bytes hash to ${loaded.sha256}; the next link recorded ${expected.sha256}`,
        });
      if (manifest.sequence !== expected.sequence)
        problems.push({
          kind: 'sequence_gap',
          key: expected.key,
          detail: `sequence ${manifest.sequence}, expected ${expected.sequence}`,
        });
      objectsChecked += await checkBundleObjects(context.evidence, manifest, problems);
      const previous = manifest.previousManifest;
      if (previous && previous.sequence !== manifest.sequence - 1)
        problems.push({
          kind: 'sequence_gap',
          key: expected.key,
          detail: `links to sequence ${previous.sequence}, expected ${manifest.sequence - 1}`,
        });
      if (!previous && manifest.sequence !== 1)
        problems.push({
          kind: 'chain_break',
          key: expected.key,
          detail: `sequence ${manifest.sequence} has no previous manifest`,
        });
      if (problems.length > before) bundle.status = 'DEGRADED';
      expected = previous;
    }
  }

  // Nothing checked proves nothing: UNKNOWN, never OK.
  const status: Quality =
    bundles.length === 0 ? 'UNKNOWN' : problems.length > 0 ? 'DEGRADED' : 'OK';
  const report: IntegrityReport = {
    schemaVersion: 1,
    jobRunId: context.run.jobRunId,
    generatedAt: context.clock.now().toISOString(),
    status,
    subject: 'evidence',
    checked: { bundles: bundles.length, objects: objectsChecked },
    bundles,
    findings: problems,
  };
  const summary = [
    `evidence_integrity_check ${context.run.jobRunId}: ${status}`,
    `bundles checked: ${bundles.length}, objects checked: ${objectsChecked}, findings: ${problems.length}`,
    ...problems.map((f) => `- ${f.kind} ${f.key}: ${f.detail}`),
  ].join('\n');
  return {
    quality: status,
    outputs: [
      { name: 'summary.txt', contentType: 'text/plain; charset=utf-8', body: `${summary}\n` },
    ],
    integrityReport: report,
    diagnostics:
      status === 'UNKNOWN'
        ? [{ level: 'warning', code: 'no_evidence', message: 'no evidence bundles to check yet' }]
        : problems.map((f) => ({
            level: 'error' as const,
            code: f.kind,
            message: `${f.key}: ${f.detail}`,
          })),
  };
}

export const evidenceIntegrityCheck: JobImplementation = {
  jobId: 'evidence_integrity_check',
  run: checkEvidence,
};
