import { EvidenceManifest, SupportBundleManifest } from '../../contracts';
import { recordControlEvent, type ControlDependencies } from './controls';
import { ValidationError } from './errors';
import { sha256Hex } from './hashing';
import { evidencePrefix, parseJobRunId } from './ids';
import { objectName } from './layout';
import { tarGz } from './tar';

const encoder = new TextEncoder();

export interface SupportBundle {
  fileName: string;
  archive: Uint8Array;
  manifest: SupportBundleManifest;
}

/**
 * `opsrail support-bundle <jobRunId>`: the run's evidence chain (manifest and every object it
 * lists, the previous manifest it links to), its job state and duplicate deliveries, in one
 * redacted tar.gz with a support_bundle_manifest. Creating one is audited (support_bundle.created).
 */
export async function createSupportBundle(
  deps: ControlDependencies,
  jobRunId: string,
  createdBy: string,
): Promise<SupportBundle> {
  const parsed = parseJobRunId(jobRunId);
  if (!parsed)
    throw new ValidationError('support-bundle request', [
      { path: 'jobRunId', message: `'${jobRunId}' is not <jobId>/<window start, UTC>` },
    ]);
  if (!createdBy.trim())
    throw new ValidationError('support-bundle request', [
      { path: 'by', message: 'who creates the bundle must be named (--as)' },
    ]);
  const prefix = evidencePrefix(deps.policy.stage, parsed.jobId, parsed.tick);
  const manifestKey = `${prefix}${objectName('manifest', parsed.tick.toISOString())}`;
  const manifestBytes = await deps.evidence.getObject(manifestKey);
  if (!manifestBytes)
    throw new ValidationError('support-bundle request', [
      { path: 'jobRunId', message: `no evidence for ${jobRunId} (${manifestKey} not found)` },
    ]);
  const manifest = EvidenceManifest.parse(JSON.parse(new TextDecoder().decode(manifestBytes)));

  const files: { name: string; body: Uint8Array }[] = [];
  const sources: string[] = [manifestKey];
  const add = (name: string, text: string) =>
    files.push({ name, body: encoder.encode(deps.redactor.text(text)) });
  add('evidence/manifest.json', new TextDecoder().decode(manifestBytes));
  for (const object of manifest.objects) {
    const key = `${manifest.prefix}${object.name}`;
    const body = await deps.evidence.getObject(key);
    sources.push(key);
    add(
      `evidence/${object.name.replace(/\/run=[^/.]+/, '')}`,
      body ? new TextDecoder().decode(body) : `missing: ${key}\n`,
    );
  }
  if (manifest.previousManifest) {
    const previous = await deps.evidence.getObject(manifest.previousManifest.key);
    sources.push(manifest.previousManifest.key);
    add(
      'evidence/previous_manifest.json',
      previous ? new TextDecoder().decode(previous) : `missing: ${manifest.previousManifest.key}\n`,
    );
  }
  const [jobState, run, duplicates] = await Promise.all([
    deps.state.getJobState(parsed.jobId),
    deps.state.getRun(jobRunId),
    deps.state.listDuplicates(jobRunId),
  ]);
  add('state/job_state.json', `${JSON.stringify(jobState ?? null, null, 2)}\n`);
  add('state/run.json', `${JSON.stringify(run ? { ...run, audit: undefined } : null, null, 2)}\n`);
  add('state/duplicates.jsonl', `${duplicates.map((d) => JSON.stringify(d)).join('\n')}\n`);

  const createdAt = deps.clock.now();
  const bundleManifest = SupportBundleManifest.parse({
    schemaVersion: 1,
    stage: deps.policy.stage,
    jobId: parsed.jobId,
    jobRunId,
    createdAt: createdAt.toISOString(),
    createdBy: deps.redactor.id(createdBy),
    sources,
    files: files.map((f) => ({ name: f.name, sha256: sha256Hex(f.body), size: f.body.byteLength })),
    redaction: {
      placeholder: deps.policy.settings.redaction.placeholder,
      customPatterns: deps.policy.settings.redaction.patterns.length,
    },
  });
  files.unshift({
    name: 'support_bundle_manifest.json',
    body: encoder.encode(`${JSON.stringify(bundleManifest, null, 2)}\n`),
  });
  const archive = tarGz(files, createdAt);
  await recordControlEvent(
    deps,
    'support_bundle.created',
    { by: createdBy, reason: `support bundle for ${jobRunId}` },
    { jobRunId, sha256: sha256Hex(archive), files: files.length },
    parsed.jobId,
  );
  return {
    fileName: `support-bundle_${parsed.jobId}_${parsed.tick
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}Z$/, 'Z')}.tar.gz`,
    archive,
    manifest: bundleManifest,
  };
}
