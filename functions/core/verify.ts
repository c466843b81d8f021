import { AuditEvent, EvidenceManifest, type IntegrityFindingKind } from '../../contracts';
import { sha256Hex } from './hashing';
import { parseJobRunId, evidencePrefix } from './ids';
import { objectName } from './layout';
import type { ResolvedPolicy } from './policy';
import type { ControlChainHead, ControlChainReader, EvidenceReader, JobStateReader, OpenRun, StateStore } from './ports';
import type { Clock } from './clock';

/** What verify can find (docs/evidence.md); the integrity report's findings use the same kinds. */
export type ProblemKind = IntegrityFindingKind;

/** Something wrong with the evidence, named by the object key it is about. */
export interface Problem {
  kind: ProblemKind;
  key: string;
  detail: string;
}

export interface VerifyReport {
  ok: boolean;
  manifests: number;
  objects: number;
  /** Control events checked through their chain (verify --all without --job only). */
  controlEvents: number;
  problems: Problem[];
}

interface LoadedManifest {
  key: string;
  bytes: Uint8Array;
  sha256: string;
  manifest: EvidenceManifest;
}

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Reads and parses a manifest; a manifest stored under another run's key (e.g. two swapped) is reported. */
export async function loadManifest(evidence: EvidenceReader, key: string, problems: Problem[]): Promise<LoadedManifest | undefined> {
  const bytes = await evidence.getObject(key);
  if (!bytes) {
    problems.push({ kind: 'missing_object', key, detail: 'manifest not found' });
    return undefined;
  }
  let manifest: EvidenceManifest;
  try {
    manifest = EvidenceManifest.parse(JSON.parse(decode(bytes)));
  } catch (error) {
    problems.push({ kind: 'unreadable_manifest', key, detail: (error as Error).message.slice(0, 300) });
    return undefined;
  }
  const expectedKey = `${manifest.prefix}${objectName('manifest', manifest.window.start)}`;
  if (expectedKey !== key) problems.push({ kind: 'misplaced_manifest', key, detail: `holds the manifest of ${manifest.jobRunId} (sequence ${manifest.sequence}), which belongs at ${expectedKey}` });
  return { key, bytes, sha256: sha256Hex(bytes), manifest };
}

/** Every object a manifest lists, against its recorded size and SHA-256; and the run's audit trail closes. */
export async function checkBundleObjects(evidence: EvidenceReader, manifest: EvidenceManifest, problems: Problem[]): Promise<number> {
  let checked = 0;
  for (const object of manifest.objects) {
    const key = `${manifest.prefix}${object.name}`;
    checked++;
    const body = await evidence.getObject(key);
    if (!body) problems.push({ kind: 'missing_object', key, detail: `listed in ${manifest.jobRunId}'s manifest but not stored` });
    else if (body.byteLength !== object.size) problems.push({ kind: 'size_mismatch', key, detail: `${body.byteLength} bytes, manifest says ${object.size}` });
    else if (sha256Hex(body) !== object.sha256) problems.push({ kind: 'hash_mismatch', key, detail: `sha256 ${sha256Hex(body)}, manifest says ${object.sha256}` });
    else if (object.name.startsWith('audit/')) {
      const types = decode(body).trim().split('\n').map((line) => AuditEvent.safeParse(JSON.parse(line)).data?.type);
      const starts = types.filter((t) => t === 'job.run.start').length;
      const ends = types.filter((t) => t === 'job.run.end' || t === 'job.run.fail').length;
      if (starts !== 1 || ends !== 1) problems.push({ kind: 'unfinished_run', key, detail: `${starts} job.run.start and ${ends} job.run.end/fail: every start needs exactly one end or fail` });
    }
  }
  return checked;
}

/**
 * The chain of one job's manifests, in sequence order: consecutive sequence numbers from 1, each link
 * naming the previous manifest's key and the SHA-256 of its bytes, and the state table's chain head
 * naming the last one. A manifest whose bytes changed is named by the link that no longer matches it.
 */
function checkChain(chain: LoadedManifest[], head: { manifestKey: string; manifestSha256: string; sequence: number } | undefined, problems: Problem[], inFlight: ReadonlySet<string> = new Set()): void {
  chain.sort((a, b) => a.manifest.sequence - b.manifest.sequence);
  // A run inside its lease may have linked its manifest and not written it yet: open, not missing.
  const open = (key: string) => inFlight.has(key) && !chain.some((m) => m.key === key);
  chain.forEach((current, i) => {
    const { manifest } = current;
    const link = manifest.previousManifest;
    if (link && open(link.key)) return; // its previous link is still being written; nothing to compare yet
    const expectedSequence = i === 0 ? 1 : chain[i - 1]!.manifest.sequence + 1;
    if (manifest.sequence !== expectedSequence) {
      problems.push({ kind: 'sequence_gap', key: current.key, detail: `sequence ${manifest.sequence} follows ${i === 0 ? 'nothing' : chain[i - 1]!.manifest.sequence}: expected ${expectedSequence}` });
    }
    const previous = chain[i - 1];
    if (!link) {
      if (i > 0 || manifest.sequence !== 1) problems.push({ kind: 'chain_break', key: current.key, detail: 'has no link to a previous manifest' });
      return;
    }
    if (!previous || previous.key !== link.key) {
      if (!chain.some((m) => m.key === link.key)) problems.push({ kind: 'missing_object', key: link.key, detail: `manifest of sequence ${link.sequence}, linked from ${current.key}, is missing` });
      else problems.push({ kind: 'chain_break', key: current.key, detail: `links to ${link.key}, but the manifest before it is ${previous?.key ?? 'none'}` });
    } else if (previous.sha256 !== link.sha256) {
      problems.push({ kind: 'hash_mismatch', key: previous.key, detail: `manifest bytes hash to ${previous.sha256}; the next manifest recorded ${link.sha256}` });
    }
  });
  const last = chain[chain.length - 1];
  if (head && open(head.manifestKey)) return;
  if (head && !last) {
    problems.push({ kind: 'missing_object', key: head.manifestKey, detail: `chain head (sequence ${head.sequence}) is missing, and no manifest of this job is left` });
  } else if (head && last) {
    if (head.manifestKey !== last.key) {
      if (!chain.some((m) => m.key === head.manifestKey)) problems.push({ kind: 'missing_object', key: head.manifestKey, detail: `chain head (sequence ${head.sequence}) is missing` });
      else problems.push({ kind: 'chain_break', key: last.key, detail: `the state table's chain head is ${head.manifestKey}, not the last manifest` });
    } else if (head.manifestSha256 !== last.sha256) {
      problems.push({ kind: 'hash_mismatch', key: last.key, detail: `manifest bytes hash to ${last.sha256}; the state table's chain head recorded ${head.manifestSha256}` });
    }
  }
}

/** Where a run's manifest is (or will be) stored, from its jobRunId alone. */
export function manifestKeyOf(stage: ResolvedPolicy['stage'], jobRunId: string): string | undefined {
  const parsed = parseJobRunId(jobRunId);
  return parsed ? `${evidencePrefix(stage, parsed.jobId, parsed.tick)}${objectName('manifest', parsed.tick.toISOString())}` : undefined;
}

/**
 * Runs claimed and not finalized, with the key their manifest will have. While its lease runs a run is in
 * flight (Finalize reserves the chain link first and writes the manifest last, so for a moment the head
 * names a manifest not yet stored); after it, the run was lost: started and never ended.
 */
export async function openRunManifests(stage: ResolvedPolicy['stage'], state: Pick<StateStore, 'listOpenRuns'>, now: Date): Promise<{ open: OpenRun; manifestKey: string; inFlight: boolean }[]> {
  return (await state.listOpenRuns()).flatMap((open) => {
    const manifestKey = manifestKeyOf(stage, open.jobRunId);
    return manifestKey ? [{ open, manifestKey, inFlight: Date.parse(open.leaseExpiresAt) >= now.getTime() }] : [];
  });
}

/**
 * The stage's control events, walked from the state table's head back to sequence 1: every link must
 * name an object that is stored, whose bytes hash as recorded and whose sequence is one less. Every
 * object under a control/ prefix that the walk does not reach is `unlisted_object` (planted, or cut off
 * from the chain by a break reported on the way).
 */
async function checkControlChain(evidence: EvidenceReader, controlKeys: string[], head: ControlChainHead | undefined, problems: Problem[]): Promise<number> {
  const reached = new Set<string>();
  let link: { key: string; sha256: string; sequence: number; from: string } | null = head ? { ...head, from: "the state table's control chain head" } : null;
  while (link && !reached.has(link.key)) {
    const { key, from } = link;
    const stored = await evidence.getObject(key);
    if (!stored) problems.push({ kind: 'missing_object', key, detail: `control event of sequence ${link.sequence}, named by ${from}, is not stored` });
    // The head keeps its event's bytes (written by the next event): the walk goes on from them.
    const bytes = stored ?? (head && key === head.key ? new TextEncoder().encode(head.body) : undefined);
    if (!bytes) break;
    reached.add(key);
    if (sha256Hex(bytes) !== link.sha256) problems.push({ kind: 'hash_mismatch', key, detail: `control event bytes hash to ${sha256Hex(bytes)}; ${from} recorded ${link.sha256}` });
    let parsed;
    try {
      parsed = AuditEvent.safeParse(JSON.parse(decode(bytes)));
    } catch (error) {
      parsed = { success: false as const, error: error as Error };
    }
    const chain = parsed.success ? parsed.data.chain : undefined;
    if (!parsed.success || !chain) {
      const detail = parsed.success ? 'has no chain link' : parsed.error.message.slice(0, 300);
      problems.push({ kind: 'unreadable_control_event', key, detail: `${detail}; the control events before it cannot be reached` });
      break;
    }
    if (chain.sequence !== link.sequence) problems.push({ kind: 'sequence_gap', key, detail: `holds sequence ${chain.sequence}; ${from} expected ${link.sequence}` });
    if (!chain.previous && chain.sequence !== 1) problems.push({ kind: 'chain_break', key, detail: `sequence ${chain.sequence} has no link to a previous control event` });
    if (chain.previous && chain.previous.sequence !== chain.sequence - 1) problems.push({ kind: 'sequence_gap', key, detail: `sequence ${chain.sequence} links to sequence ${chain.previous.sequence}` });
    link = chain.previous ? { ...chain.previous, from: key } : null;
  }
  for (const key of controlKeys) {
    if (!reached.has(key)) problems.push({ kind: 'unlisted_object', key, detail: 'under control/ but not in the chain of control events' });
  }
  return reached.size;
}

/** `P…/manifest/run=S.json` → does `key` belong to that run (`P…/<kind>/run=S.json`, `P…/outputs/run=S/…`)? */
function inRunOf(manifestKey: string, key: string): boolean {
  const match = /^(.*\/job_id=[^/]+\/)manifest\/(run=[^/]+)\.json$/.exec(manifestKey);
  if (!match || !key.startsWith(match[1]!)) return false;
  const rest = key.slice(match[1]!.length);
  return rest.includes(`/${match[2]}.`) || rest.includes(`/${match[2]}/`);
}

export interface VerifyDependencies {
  policy: ResolvedPolicy;
  evidence: EvidenceReader;
  state: JobStateReader & ControlChainReader & Pick<StateStore, 'listOpenRuns'>;
  clock: Clock;
}

/** `opsrail verify --all [--job J]` or `opsrail verify <jobRunId>`: everything is recomputed from the bytes. */
export async function verifyEvidence(deps: VerifyDependencies, scope: { jobId?: string } | { jobRunId: string }): Promise<VerifyReport> {
  const problems: Problem[] = [];
  let only: { jobId: string; manifestKey: string } | undefined;
  if ('jobRunId' in scope) {
    const parsed = parseJobRunId(scope.jobRunId);
    if (!parsed) throw new Error(`'${scope.jobRunId}' is not a jobRunId (<jobId>/<window start, UTC>)`);
    only = { jobId: parsed.jobId, manifestKey: manifestKeyOf(deps.policy.stage, scope.jobRunId) as string };
  }
  const jobFilter = only?.jobId ?? ('jobId' in scope ? scope.jobId : undefined);
  const keys = await deps.evidence.list(`stage=${deps.policy.stage}/`);
  const manifestKeys = keys.filter((k) => /\/job_id=[^/]+\/manifest\/run=[^/]+\.json$/.test(k) && (!jobFilter || k.includes(`/job_id=${jobFilter}/`)));
  const missing: Problem | undefined = only && !manifestKeys.includes(only.manifestKey) ? { kind: 'missing_object', key: only.manifestKey, detail: 'no manifest for this run' } : undefined;

  const byJob = new Map<string, LoadedManifest[]>();
  let objects = 0;
  for (const key of manifestKeys) {
    const loaded = await loadManifest(deps.evidence, key, problems);
    if (!loaded) continue;
    const jobId = /\/job_id=([^/]+)\//.exec(key)?.[1] as string;
    byJob.set(jobId, [...(byJob.get(jobId) ?? []), loaded]);
    if (!only || key === only.manifestKey) objects += await checkBundleObjects(deps.evidence, loaded.manifest, problems);
  }
  // Every catalog job is checked against its chain head, so a job whose manifests were all deleted is caught too.
  const jobIds = new Set([...byJob.keys(), ...deps.policy.jobs.map((j) => j.jobId).filter((id) => !jobFilter || id === jobFilter)]);
  const linked = new Set([...byJob.values()].flat().flatMap(({ manifest }) => (manifest.previousManifest ? [manifest.previousManifest.key] : [])));
  // A job.run.start with no end or fail: a run still claimed after its lease, whose bundle was never written.
  const openRuns = await openRunManifests(deps.policy.stage, deps.state, deps.clock.now());
  const inFlightManifests = new Set(openRuns.filter((r) => r.inFlight).map((r) => r.manifestKey));
  for (const jobId of jobIds) {
    const head = (await deps.state.getJobState(jobId))?.chainHead;
    if (head) linked.add(head.manifestKey);
    checkChain(byJob.get(jobId) ?? [], head, problems, inFlightManifests);
  }
  for (const { open, manifestKey, inFlight } of openRuns) {
    if (inFlight || (jobFilter && open.jobId !== jobFilter)) continue;
    problems.push({ kind: 'unfinished_run', key: manifestKey, detail: `${open.jobRunId} started (execution ${open.executionId}) and never ended: its lease expired at ${open.leaseExpiresAt}` });
  }
  // Every object under a bundle prefix must be listed by a manifest. Not reported again: the objects of
  // a run whose manifest the chain names but which is missing (that is the finding), and those of a run
  // still being finalized (objects are written before the manifest). A planted run_record is named here.
  const listed = new Set([...byJob.values()].flat().flatMap(({ key, manifest }) => [key, ...manifest.objects.map((o) => `${manifest.prefix}${o.name}`)]));
  const loaded = new Set([...byJob.values()].flat().map((m) => m.key));
  const accounted = [
    ...openRuns.filter((r) => r.inFlight).map((r) => r.manifestKey),
    ...[...linked].filter((k) => !manifestKeys.includes(k)),
    ...manifestKeys.filter((k) => !loaded.has(k)), // unreadable: reported as such
  ];
  for (const key of keys) {
    const jobId = /^stage=[^/]+\/dt=[^/]+\/job_id=([^/]+)\//.exec(key)?.[1];
    if (!jobId || (jobFilter && jobId !== jobFilter) || listed.has(key) || manifestKeys.includes(key)) continue;
    if (accounted.some((manifestKey) => inRunOf(manifestKey, key))) continue;
    problems.push({ kind: 'unlisted_object', key, detail: 'under a bundle prefix, but no manifest lists it' });
  }
  const controlKeys = keys.filter((k) => /^stage=[^/]+\/dt=[^/]+\/control\//.test(k));
  const controlEvents = jobFilter ? 0 : await checkControlChain(deps.evidence, controlKeys, await deps.state.getControlChainHead(), problems);

  // For one run: its own objects, and the links that vouch for its manifest.
  const run = only && byJob.get(only.jobId)?.find((m) => m.key === only.manifestKey);
  const relevant = only ? new Set([only.manifestKey, ...(run ? run.manifest.objects.map((o) => `${run.manifest.prefix}${o.name}`) : [])]) : undefined;
  const unfinished = problems.some((p) => p.kind === 'unfinished_run' && p.key === only?.manifestKey);
  const ofRun = (p: Problem) => relevant!.has(p.key) || (p.kind === 'unlisted_object' && inRunOf(only!.manifestKey, p.key));
  const reported = relevant ? [...(missing && !unfinished ? [missing] : []), ...problems.filter(ofRun)] : problems;
  return { ok: reported.length === 0, manifests: only ? (run ? 1 : 0) : manifestKeys.length, objects, controlEvents, problems: reported };
}
