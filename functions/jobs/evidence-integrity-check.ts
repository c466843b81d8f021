import { EvidenceIntegrityCheckParams, EvidenceManifest, type IntegrityReport, type Quality } from '../../contracts';
import { sha256Hex } from '../core/hashing';
import type { JobContext, JobImplementation, JobResult } from './types';

type Finding = IntegrityReport['findings'][number];
type BundleResult = IntegrityReport['bundles'][number];

/**
 * Walks each job's hash chain back from its head (kept in the state table), re-reading the most recent
 * bundles: every object's SHA-256 and size against its manifest, every manifest against the hash the
 * next link (or the head) recorded for it, and the sequence numbers between them.
 */
async function checkEvidence(context: JobContext): Promise<JobResult> {
  const { bundlesPerJob } = EvidenceIntegrityCheckParams.parse(context.job.params);
  const findings: Finding[] = [];
  const bundles: BundleResult[] = [];
  let objectsChecked = 0;

  for (const job of context.policy.jobs) {
    const head = (await context.state.getJobState(job.jobId))?.chainHead;
    let expected: { key: string; sha256: string; sequence: number } | null = head
      ? { key: head.manifestKey, sha256: head.manifestSha256, sequence: head.sequence }
      : null;
    for (let walked = 0; expected && walked < bundlesPerJob; walked++) {
      const before = findings.length;
      const bundle: BundleResult = { jobId: job.jobId, jobRunId: '', manifestKey: expected.key, sequence: expected.sequence, status: 'OK' };
      bundles.push(bundle);
      const bytes = await context.evidence.getObject(expected.key);
      if (!bytes) {
        findings.push({ kind: 'missing_object', key: expected.key, detail: `manifest of sequence ${expected.sequence} is missing` });
        bundle.status = 'DEGRADED';
        break; // the chain cannot be followed past a missing manifest
      }
      if (sha256Hex(bytes) !== expected.sha256) {
        findings.push({ kind: 'chain_break', key: expected.key, detail: `manifest hash ${sha256Hex(bytes)} differs from the ${expected.sha256} recorded by the next link` });
      }
      let manifest: EvidenceManifest;
      try {
        manifest = EvidenceManifest.parse(JSON.parse(new TextDecoder().decode(bytes)));
      } catch (error) {
        findings.push({ kind: 'unreadable_manifest', key: expected.key, detail: (error as Error).message.slice(0, 500) });
        bundle.status = 'DEGRADED';
        break;
      }
      bundle.jobRunId = manifest.jobRunId;
      if (manifest.sequence !== expected.sequence) {
        findings.push({ kind: 'sequence_gap', key: expected.key, detail: `sequence ${manifest.sequence}, expected ${expected.sequence}` });
      }
      for (const object of manifest.objects) {
        const key = `${manifest.prefix}${object.name}`;
        objectsChecked++;
        const body = await context.evidence.getObject(key);
        if (!body) findings.push({ kind: 'missing_object', key, detail: 'listed in the manifest but not stored' });
        else if (body.byteLength !== object.size) findings.push({ kind: 'size_mismatch', key, detail: `${body.byteLength} bytes, manifest says ${object.size}` });
        else if (sha256Hex(body) !== object.sha256) findings.push({ kind: 'hash_mismatch', key, detail: `sha256 ${sha256Hex(body)}, manifest says ${object.sha256}` });
      }
      const previous = manifest.previousManifest;
      if (previous && previous.sequence !== manifest.sequence - 1) {
        findings.push({ kind: 'sequence_gap', key: expected.key, detail: `links to sequence ${previous.sequence}, expected ${manifest.sequence - 1}` });
      }
      if (!previous && manifest.sequence !== 1) {
        findings.push({ kind: 'chain_break', key: expected.key, detail: `sequence ${manifest.sequence} has no previous manifest` });
      }
      if (findings.length > before) bundle.status = 'DEGRADED';
      expected = previous;
    }
  }

  // Nothing checked proves nothing: UNKNOWN, never OK.
  const status: Quality = bundles.length === 0 ? 'UNKNOWN' : findings.length > 0 ? 'DEGRADED' : 'OK';
  const report: IntegrityReport = {
    schemaVersion: 1,
    jobRunId: context.run.jobRunId,
    generatedAt: context.clock.now().toISOString(),
    status,
    subject: 'evidence',
    checked: { bundles: bundles.length, objects: objectsChecked },
    bundles,
    findings,
  };
  const summary = [
    `evidence_integrity_check ${context.run.jobRunId}: ${status}`,
    `bundles checked: ${bundles.length}, objects checked: ${objectsChecked}, findings: ${findings.length}`,
    ...findings.map((f) => `- ${f.kind} ${f.key}: ${f.detail}`),
  ].join('\n');
  return {
    quality: status,
    outputs: [{ name: 'summary.txt', contentType: 'text/plain; charset=utf-8', body: `${summary}\n` }],
    integrityReport: report,
    diagnostics:
      status === 'UNKNOWN'
        ? [{ level: 'warning', code: 'no_evidence', message: 'no evidence bundles to check yet' }]
        : findings.map((f) => ({ level: 'error' as const, code: f.kind, message: `${f.key}: ${f.detail}` })),
  };
}

export const evidenceIntegrityCheck: JobImplementation = { jobId: 'evidence_integrity_check', run: checkEvidence };
