import {
  AuditEvent,
  EvidenceManifest,
  ExportArchiveManifest,
  ExportDataset,
  ExportManifestEntry,
  type IntegrityFindingKind,
} from '../../contracts';
import { exportManifestKey, exportsPrefix, parseExportManifestKey } from './exports';
import { sha256Hex } from './hashing';
import { parseJobRunId, evidencePrefix } from './ids';
import { objectName } from './layout';
import type { ResolvedPolicy } from './policy';
import type {
  ChainLink,
  ControlChainHead,
  ControlChainReader,
  EvidenceReader,
  JobStateReader,
  OpenRun,
  StateStore,
} from './ports';
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
  /** Export manifest entries checked (verify --all, docs/exports.md#what-verify-checks). */
  exports?: number;
  problems: Problem[];
}

interface LoadedManifest {
  key: string;
  bytes: Uint8Array;
  sha256: string;
  manifest: EvidenceManifest;
}

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * Reads and parses a manifest; a manifest stored under another run's key (e.g. two swapped) is
 * reported.
 */
export async function loadManifest(
  evidence: EvidenceReader,
  key: string,
  problems: Problem[],
): Promise<LoadedManifest | undefined> {
  const bytes = await evidence.getObject(key);
  if (!bytes) {
    problems.push({ kind: 'missing_object', key, detail: 'manifest not found' });
    return undefined;
  }
  let manifest: EvidenceManifest;
  try {
    manifest = EvidenceManifest.parse(JSON.parse(decode(bytes)));
  } catch (error) {
    problems.push({
      kind: 'unreadable_manifest',
      key,
      detail: (error as Error).message.slice(0, 300),
    });
    return undefined;
  }
  const expectedKey = `${manifest.prefix}${objectName('manifest', manifest.window.start)}`;
  if (expectedKey !== key)
    problems.push({
      kind: 'misplaced_manifest',
      key,
      detail: `holds the manifest of ${manifest.jobRunId} (sequence ${manifest.sequence}), which belongs at ${expectedKey}`,
    });
  return { key, bytes, sha256: sha256Hex(bytes), manifest };
}

/**
 * Every object a manifest lists, against its recorded size and SHA-256; and the run's audit trail
 * closes.
 */
export async function checkBundleObjects(
  evidence: EvidenceReader,
  manifest: EvidenceManifest,
  problems: Problem[],
): Promise<number> {
  let checked = 0;
  for (const object of manifest.objects) {
    const key = `${manifest.prefix}${object.name}`;
    checked++;
    const body = await evidence.getObject(key);
    if (!body)
      problems.push({
        kind: 'missing_object',
        key,
        detail: `listed in ${manifest.jobRunId}'s manifest but not stored`,
      });
    else if (body.byteLength !== object.size)
      problems.push({
        kind: 'size_mismatch',
        key,
        detail: `${body.byteLength} bytes, manifest says ${object.size}`,
      });
    else if (sha256Hex(body) !== object.sha256)
      problems.push({
        kind: 'hash_mismatch',
        key,
        detail: `sha256 ${sha256Hex(body)}, manifest says ${object.sha256}`,
      });
    else if (object.name.startsWith('audit/')) {
      const types = decode(body)
        .trim()
        .split('\n')
        .map((line) => AuditEvent.safeParse(JSON.parse(line)).data?.type);
      const starts = types.filter((t) => t === 'job.run.start').length;
      const ends = types.filter((t) => t === 'job.run.end' || t === 'job.run.fail').length;
      if (starts !== 1 || ends !== 1)
        problems.push({
          kind: 'unfinished_run',
          key,
          detail: `${starts} job.run.start and ${ends} job.run.end/fail: every start needs exactly one end or fail`,
        });
    }
  }
  return checked;
}

/**
 * The chain of one job's manifests, in sequence order: consecutive sequence numbers from 1, each
 * link naming the previous manifest's key and the SHA-256 of its bytes, and the state table's chain
 * head naming the last one. A manifest whose bytes changed is named by the link that no longer
 * matches it.
 */
function checkChain(
  chain: LoadedManifest[],
  head: { manifestKey: string; manifestSha256: string; sequence: number } | undefined,
  problems: Problem[],
  inFlight: ReadonlySet<string> = new Set(),
): void {
  chain.sort((a, b) => a.manifest.sequence - b.manifest.sequence);
  // A run inside its lease may have linked its manifest and not written it yet: open, not missing.
  const open = (key: string) => inFlight.has(key) && !chain.some((m) => m.key === key);
  chain.forEach((current, i) => {
    const { manifest } = current;
    const link = manifest.previousManifest;
    if (link && open(link.key)) return; // its previous link is still being written; nothing to compare yet
    const expectedSequence = i === 0 ? 1 : chain[i - 1]!.manifest.sequence + 1;
    if (manifest.sequence !== expectedSequence) {
      problems.push({
        kind: 'sequence_gap',
        key: current.key,
        detail: `sequence ${manifest.sequence} follows ${i === 0 ? 'nothing' : chain[i - 1]!.manifest.sequence}: expected ${expectedSequence}`,
      });
    }
    const previous = chain[i - 1];
    if (!link) {
      if (i > 0 || manifest.sequence !== 1)
        problems.push({
          kind: 'chain_break',
          key: current.key,
          detail: 'has no link to a previous manifest',
        });
      return;
    }
    if (!previous || previous.key !== link.key) {
      if (!chain.some((m) => m.key === link.key))
        problems.push({
          kind: 'missing_object',
          key: link.key,
          detail: `manifest of sequence ${link.sequence}, linked from ${current.key}, is missing`,
        });
      else
        problems.push({
          kind: 'chain_break',
          key: current.key,
          detail: `links to ${link.key}, but the manifest before it is ${previous?.key ?? 'none'}`,
        });
    } else if (previous.sha256 !== link.sha256) {
      problems.push({
        kind: 'hash_mismatch',
        key: previous.key,
        detail: `manifest bytes hash to ${previous.sha256}; the next manifest recorded ${link.sha256}`,
      });
    }
  });
  const last = chain[chain.length - 1];
  if (head && open(head.manifestKey)) return;
  if (head && !last) {
    problems.push({
      kind: 'missing_object',
      key: head.manifestKey,
      detail: `chain head (sequence ${head.sequence}) is missing, and no manifest of this job is left`,
    });
  } else if (head && last) {
    if (head.manifestKey !== last.key) {
      if (!chain.some((m) => m.key === head.manifestKey))
        problems.push({
          kind: 'missing_object',
          key: head.manifestKey,
          detail: `chain head (sequence ${head.sequence}) is missing`,
        });
      else
        problems.push({
          kind: 'chain_break',
          key: last.key,
          detail: `the state table's chain head is ${head.manifestKey}, not the last manifest`,
        });
    } else if (head.manifestSha256 !== last.sha256) {
      problems.push({
        kind: 'hash_mismatch',
        key: last.key,
        detail: `manifest bytes hash to ${last.sha256}; the state table's chain head recorded ${head.manifestSha256}`,
      });
    }
  }
}

/** Where a run's manifest is (or will be) stored, from its jobRunId alone. */
export function manifestKeyOf(
  stage: ResolvedPolicy['stage'],
  jobRunId: string,
): string | undefined {
  const parsed = parseJobRunId(jobRunId);
  return parsed
    ? `${evidencePrefix(stage, parsed.jobId, parsed.tick)}${objectName('manifest', parsed.tick.toISOString())}`
    : undefined;
}

/**
 * Runs claimed and not finalized, with the key their manifest will have. While its lease runs a run
 * is in flight (Finalize reserves the chain link first and writes the manifest last, so for a
 * moment the head names a manifest not yet stored); after it, the run was lost: started and never
 * ended.
 */
export async function openRunManifests(
  stage: ResolvedPolicy['stage'],
  state: Pick<StateStore, 'listOpenRuns'>,
  now: Date,
): Promise<{ open: OpenRun; manifestKey: string; inFlight: boolean }[]> {
  return (await state.listOpenRuns()).flatMap((open) => {
    const manifestKey = manifestKeyOf(stage, open.jobRunId);
    return manifestKey
      ? [{ open, manifestKey, inFlight: Date.parse(open.leaseExpiresAt) >= now.getTime() }]
      : [];
  });
}

/**
 * The stage's control events, walked from the state table's head back to sequence 1: every link
 * must name an object that is stored, whose bytes hash as recorded and whose sequence is one less.
 * Every object under a control/ prefix that the walk does not reach is `unlisted_object` (planted,
 * or cut off from the chain by a break reported on the way).
 */
async function checkControlChain(
  evidence: EvidenceReader,
  controlKeys: string[],
  head: ControlChainHead | undefined,
  problems: Problem[],
): Promise<number> {
  const reached = new Set<string>();
  let link: { key: string; sha256: string; sequence: number; from: string } | null = head
    ? { ...head, from: "the state table's control chain head" }
    : null;
  while (link && !reached.has(link.key)) {
    const { key, from } = link;
    const stored = await evidence.getObject(key);
    if (!stored)
      problems.push({
        kind: 'missing_object',
        key,
        detail: `control event of sequence ${link.sequence}, named by ${from}, is not stored`,
      });
    // The head keeps its event's bytes (written by the next event): the walk goes on from them.
    const bytes =
      stored ?? (head && key === head.key ? new TextEncoder().encode(head.body) : undefined);
    if (!bytes) break;
    reached.add(key);
    if (sha256Hex(bytes) !== link.sha256)
      problems.push({
        kind: 'hash_mismatch',
        key,
        detail: `control event bytes hash to ${sha256Hex(bytes)}; ${from} recorded ${link.sha256}`,
      });
    let parsed;
    try {
      parsed = AuditEvent.safeParse(JSON.parse(decode(bytes)));
    } catch (error) {
      parsed = { success: false as const, error: error as Error };
    }
    const chain = parsed.success ? parsed.data.chain : undefined;
    if (!parsed.success || !chain) {
      const detail = parsed.success ? 'has no chain link' : parsed.error.message.slice(0, 300);
      problems.push({
        kind: 'unreadable_control_event',
        key,
        detail: `${detail}; the control events before it cannot be reached`,
      });
      break;
    }
    if (chain.sequence !== link.sequence)
      problems.push({
        kind: 'sequence_gap',
        key,
        detail: `holds sequence ${chain.sequence}; ${from} expected ${link.sequence}`,
      });
    if (!chain.previous && chain.sequence !== 1)
      problems.push({
        kind: 'chain_break',
        key,
        detail: `sequence ${chain.sequence} has no link to a previous control event`,
      });
    if (chain.previous && chain.previous.sequence !== chain.sequence - 1)
      problems.push({
        kind: 'sequence_gap',
        key,
        detail: `sequence ${chain.sequence} links to sequence ${chain.previous.sequence}`,
      });
    link = chain.previous ? { ...chain.previous, from: key } : null;
  }
  for (const key of controlKeys) {
    if (!reached.has(key))
      problems.push({
        kind: 'unlisted_object',
        key,
        detail: 'under control/ but not in the chain of control events',
      });
  }
  return reached.size;
}

/**
 * `P…/manifest/run=S.json` → does `key` belong to that run (`P…/<kind>/run=S.json`,
 * `P…/outputs/run=S/…`)?
 */
function inRunOf(manifestKey: string, key: string): boolean {
  const match = /^(.*\/job_id=[^/]+\/)manifest\/(run=[^/]+)\.json$/.exec(manifestKey);
  if (!match || !key.startsWith(match[1]!)) return false;
  const rest = key.slice(match[1]!.length);
  return rest.includes(`/${match[2]}.`) || rest.includes(`/${match[2]}/`);
}

export interface VerifyDependencies {
  policy: ResolvedPolicy;
  evidence: EvidenceReader;
  state: JobStateReader &
    ControlChainReader &
    Pick<StateStore, 'listOpenRuns' | 'getRun' | 'getExportSequence'>;
  clock: Clock;
}

/**
 * `opsrail verify --all [--job J]` or `opsrail verify <jobRunId>`: everything is recomputed from
 * the bytes. `--all` lists (pages) the whole stage; one run reads only its own bundle prefix
 * (docs/evidence.md).
 */
export async function verifyEvidence(
  deps: VerifyDependencies,
  scope: { jobId?: string } | { jobRunId: string },
): Promise<VerifyReport> {
  if ('jobRunId' in scope) return verifyRun(deps, scope.jobRunId);
  const problems: Problem[] = [];
  const jobFilter = scope.jobId;
  const keys = await deps.evidence.list(`stage=${deps.policy.stage}/`);
  const manifestKeys = keys.filter(
    (k) =>
      /\/job_id=[^/]+\/manifest\/run=[^/]+\.json$/.test(k) &&
      (!jobFilter || k.includes(`/job_id=${jobFilter}/`)),
  );

  const byJob = new Map<string, LoadedManifest[]>();
  let objects = 0;
  for (const key of manifestKeys) {
    const loaded = await loadManifest(deps.evidence, key, problems);
    if (!loaded) continue;
    const jobId = /\/job_id=([^/]+)\//.exec(key)?.[1] as string;
    byJob.set(jobId, [...(byJob.get(jobId) ?? []), loaded]);
    objects += await checkBundleObjects(deps.evidence, loaded.manifest, problems);
  }
  // Every catalog job is checked against its chain head, so a job whose manifests were all deleted
  // is caught too.
  const jobIds = new Set([
    ...byJob.keys(),
    ...deps.policy.jobs.map((j) => j.jobId).filter((id) => !jobFilter || id === jobFilter),
  ]);
  const linked = new Set(
    [...byJob.values()]
      .flat()
      .flatMap(({ manifest }) =>
        manifest.previousManifest ? [manifest.previousManifest.key] : [],
      ),
  );
  // A job.run.start with no end or fail: a run still claimed after its lease, whose bundle was
  // never written.
  const openRuns = await openRunManifests(deps.policy.stage, deps.state, deps.clock.now());
  const inFlightManifests = new Set(openRuns.filter((r) => r.inFlight).map((r) => r.manifestKey));
  for (const jobId of jobIds) {
    const head = (await deps.state.getJobState(jobId))?.chainHead;
    if (head) linked.add(head.manifestKey);
    checkChain(byJob.get(jobId) ?? [], head, problems, inFlightManifests);
  }
  for (const { open, manifestKey, inFlight } of openRuns) {
    if (inFlight || (jobFilter && open.jobId !== jobFilter)) continue;
    problems.push(unfinished(open, manifestKey));
  }
  // Every object under a bundle prefix must be listed by a manifest. Not reported again: the
  // objects of a run whose manifest the chain names but which is missing (that is the finding), and
  // those of a run still being finalized (objects are written before the manifest). A planted
  // run_record is named here.
  const listed = new Set(
    [...byJob.values()]
      .flat()
      .flatMap(({ key, manifest }) => [
        key,
        ...manifest.objects.map((o) => `${manifest.prefix}${o.name}`),
      ]),
  );
  const loaded = new Set([...byJob.values()].flat().map((m) => m.key));
  const accounted = [
    ...openRuns.filter((r) => r.inFlight).map((r) => r.manifestKey),
    ...[...linked].filter((k) => !manifestKeys.includes(k)),
    ...manifestKeys.filter((k) => !loaded.has(k)), // unreadable: reported as such
  ];
  for (const key of keys) {
    const jobId = /^stage=[^/]+\/dt=[^/]+\/job_id=([^/]+)\//.exec(key)?.[1];
    if (
      !jobId ||
      (jobFilter && jobId !== jobFilter) ||
      listed.has(key) ||
      manifestKeys.includes(key)
    )
      continue;
    if (accounted.some((manifestKey) => inRunOf(manifestKey, key))) continue;
    problems.push({
      kind: 'unlisted_object',
      key,
      detail: 'under a bundle prefix, but no manifest lists it',
    });
  }
  const controlKeys = keys.filter((k) => /^stage=[^/]+\/dt=[^/]+\/control\//.test(k));
  const controlEvents = jobFilter
    ? 0
    : await checkControlChain(
        deps.evidence,
        controlKeys,
        await deps.state.getControlChainHead(),
        problems,
      );
  const exported =
    !jobFilter || jobFilter === 'dataset_export'
      ? await checkExports(deps.evidence, deps.policy.stage, keys, problems, {
          lastAllocated: (dataset) => deps.state.getExportSequence(dataset),
          // An export being run may hold numbers after the last entry, not yet written.
          exportInFlight: openRuns.some((r) => r.inFlight && r.open.jobId === 'dataset_export'),
        })
      : { entries: 0, files: 0 };
  return {
    ok: problems.length === 0,
    manifests: manifestKeys.length,
    objects,
    controlEvents,
    exports: exported.entries,
    problems,
  };
}

/**
 * dataset_export's exports (docs/exports.md#what-verify-checks): per dataset, the manifest entries'
 * sequence numbers follow one another from the first to the last (an entry that aged out counts when
 * an archive manifest lists it), each entry is stored under its own dataset and sequence, and every
 * file it lists is stored with the bytes its checksum_sha256 names.
 */
export async function checkExports(
  evidence: EvidenceReader,
  stage: ResolvedPolicy['stage'],
  keys: readonly string[],
  problems: Problem[],
  counters?: { lastAllocated(dataset: string): Promise<number>; exportInFlight: boolean },
): Promise<{ entries: number; files: number }> {
  const prefix = exportsPrefix(stage);
  const exportKeys = keys.filter((k) => k.startsWith(prefix));
  const present = new Map<string, Set<number>>();
  const known = (dataset: string) => {
    const set = present.get(dataset) ?? new Set<number>();
    present.set(dataset, set);
    return set;
  };
  let entries = 0;
  let files = 0;
  for (const key of exportKeys.filter((k) => /\/archive\/seq=\d{8}\.json$/.test(k))) {
    const bytes = await evidence.getObject(key);
    const archive = bytes && ExportArchiveManifest.safeParse(parseJson(decode(bytes)));
    if (!archive?.success) {
      problems.push({ kind: 'unreadable_manifest', key, detail: 'not an export archive manifest' });
      continue;
    }
    for (const e of archive.data.entries) known(archive.data.dataset).add(e.sequence);
  }
  for (const key of exportKeys) {
    const at = parseExportManifestKey(key);
    if (!at) continue;
    known(at.dataset).add(at.sequence);
    entries++;
    const bytes = await evidence.getObject(key);
    const parsed = bytes && ExportManifestEntry.safeParse(parseJson(decode(bytes)));
    if (!parsed?.success) {
      problems.push({
        kind: 'unreadable_manifest',
        key,
        detail: bytes ? 'not an export manifest entry' : 'export manifest entry not found',
      });
      continue;
    }
    const entry = parsed.data;
    if (entry.dataset !== at.dataset || entry.sequence !== at.sequence)
      problems.push({
        kind: 'misplaced_manifest',
        key,
        detail: `holds ${entry.dataset} #${entry.sequence}, which belongs at ${exportManifestKey(stage, entry.dataset, entry.sequence)}`,
      });
    for (const file of entry.files) {
      files++;
      const body = await evidence.getObject(file.key);
      if (!body)
        problems.push({
          kind: 'missing_object',
          key: file.key,
          detail: `listed in export ${entry.dataset} #${entry.sequence} but not stored`,
        });
      else if (sha256Hex(body) !== file.checksum_sha256)
        problems.push({
          kind: 'checksum_mismatch',
          key: file.key,
          detail: `sha256 ${sha256Hex(body)} (${body.byteLength} bytes), export ${entry.dataset} #${entry.sequence} says ${file.checksum_sha256} (${file.size} bytes)`,
        });
    }
  }
  // The state table's counter names the last number given: entries after the last one stored
  // (the newest deleted, or a run that got a number and never finished) are missing too, unless an
  // export is running now.
  if (counters && !counters.exportInFlight)
    for (const dataset of ExportDataset.options) {
      const allocated = await counters.lastAllocated(dataset);
      const sequences = present.get(dataset) ?? new Set<number>();
      const stored = Math.max(0, ...sequences);
      for (let n = stored + 1; n <= allocated; n++)
        problems.push({
          kind: 'sequence_gap',
          key: exportManifestKey(stage, dataset, n),
          detail: `export ${dataset} #${n} was allocated (the state table's counter is at #${allocated}) but is not stored`,
        });
    }
  for (const [dataset, sequences] of [...present.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const sorted = [...sequences].sort((a, b) => a - b);
    const first = sorted[0]!;
    const last = sorted[sorted.length - 1]!;
    for (let n = first + 1; n < last; n++)
      if (!sequences.has(n))
        problems.push({
          kind: 'sequence_gap',
          key: exportManifestKey(stage, dataset as never, n),
          detail: `export ${dataset} #${n} is missing between #${first} and #${last}`,
        });
  }
  return { entries, files };
}

const unfinished = (
  open: Pick<OpenRun, 'jobRunId' | 'executionId' | 'leaseExpiresAt'>,
  manifestKey: string,
): Problem => ({
  kind: 'unfinished_run',
  key: manifestKey,
  detail: `${open.jobRunId} started (execution ${open.executionId}) and never ended: its lease expired at ${open.leaseExpiresAt}`,
});

/**
 * One run, from its own bundle prefix (stage=…/dt=…/job_id=…/, the one listing) and, by key, what
 * vouches for its manifest: the run's chain link in the state table (or, once the run item is gone,
 * the link of the next manifest, walked back from the chain head), the chain head when it is the
 * last, and the previous manifest its own link names. Nothing else of the stage is listed or read.
 */
async function verifyRun(deps: VerifyDependencies, jobRunId: string): Promise<VerifyReport> {
  const parsed = parseJobRunId(jobRunId);
  if (!parsed) throw new Error(`'${jobRunId}' is not a jobRunId (<jobId>/<window start, UTC>)`);
  const manifestKey = manifestKeyOf(deps.policy.stage, jobRunId) as string;
  const problems: Problem[] = [];
  const keys = (
    await deps.evidence.list(evidencePrefix(deps.policy.stage, parsed.jobId, parsed.tick))
  ).filter((k) => k === manifestKey || inRunOf(manifestKey, k));
  const item = await deps.state.getRun(jobRunId);
  const open =
    item?.phase === 'claimed'
      ? { inFlight: Date.parse(item.leaseExpiresAt) >= deps.clock.now().getTime() }
      : undefined;
  if (open && !open.inFlight) problems.push(unfinished(item!, manifestKey));
  const report = (manifests: number, objects: number): VerifyReport => ({
    ok: problems.length === 0,
    manifests,
    objects,
    controlEvents: 0,
    problems,
  });

  if (!keys.includes(manifestKey)) {
    // Inside its lease a run is open, its manifest still to come: nothing to verify yet (not a
    // finding).
    if (!open)
      problems.push({
        kind: 'missing_object',
        key: manifestKey,
        detail: 'no manifest for this run',
      });
    // Objects written before a manifest that is missing (the finding) or still to come are not
    // reported again.
    const expected = !!open || !!item?.chain;
    if (!expected)
      for (const key of keys)
        problems.push({
          kind: 'unlisted_object',
          key,
          detail: 'under a bundle prefix, but no manifest lists it',
        });
    return report(0, 0);
  }
  const run = await loadManifest(deps.evidence, manifestKey, problems);
  if (!run) return report(0, 0);
  const objects = await checkBundleObjects(deps.evidence, run.manifest, problems);
  const listed = new Set(run.manifest.objects.map((o) => `${run.manifest.prefix}${o.name}`));
  for (const key of keys) {
    if (key !== manifestKey && !listed.has(key))
      problems.push({
        kind: 'unlisted_object',
        key,
        detail: 'under a bundle prefix, but no manifest lists it',
      });
  }
  await checkOwnLink(deps.evidence, run, problems);
  await checkVouchers(deps, run, item?.chain, problems);
  return report(1, objects);
}

/**
 * The run's link back: a consecutive sequence, naming a stored manifest whose bytes hash as
 * recorded.
 */
async function checkOwnLink(
  evidence: EvidenceReader,
  run: LoadedManifest,
  problems: Problem[],
): Promise<void> {
  const { manifest, key } = run;
  const link = manifest.previousManifest;
  if (!link) {
    if (manifest.sequence !== 1) {
      problems.push({
        kind: 'sequence_gap',
        key,
        detail: `sequence ${manifest.sequence} follows nothing: expected 1`,
      });
      problems.push({ kind: 'chain_break', key, detail: 'has no link to a previous manifest' });
    }
    return;
  }
  if (link.sequence !== manifest.sequence - 1)
    problems.push({
      kind: 'sequence_gap',
      key,
      detail: `sequence ${manifest.sequence} links to sequence ${link.sequence}`,
    });
  const bytes = await evidence.getObject(link.key);
  if (!bytes) {
    problems.push({
      kind: 'missing_object',
      key: link.key,
      detail: `manifest of sequence ${link.sequence}, linked from ${key}, is missing`,
    });
  } else if (sha256Hex(bytes) !== link.sha256) {
    problems.push({
      kind: 'hash_mismatch',
      key: link.key,
      detail: `manifest bytes hash to ${sha256Hex(bytes)}; ${key} recorded ${link.sha256}`,
    });
  }
}

/**
 * What vouches for the run's manifest bytes: the chain head when this run is the last; the run's
 * own chain link (reserved before the manifest was written); and, once the run item is gone, the
 * link of the next manifest, reached from the head by key.
 */
async function checkVouchers(
  deps: VerifyDependencies,
  run: LoadedManifest,
  own: ChainLink | undefined,
  problems: Problem[],
): Promise<void> {
  const { key, sha256, manifest } = run;
  const vouch = (by: { key: string; sha256: string; sequence: number }, from: string) => {
    if (by.key !== key)
      problems.push({
        kind: 'chain_break',
        key,
        detail: `${from} names ${by.key} for sequence ${by.sequence}, not this manifest`,
      });
    else if (by.sequence !== manifest.sequence)
      problems.push({
        kind: 'sequence_gap',
        key,
        detail: `holds sequence ${manifest.sequence}; ${from} recorded ${by.sequence}`,
      });
    else if (by.sha256 !== sha256)
      problems.push({
        kind: 'hash_mismatch',
        key,
        detail: `manifest bytes hash to ${sha256}; ${from} recorded ${by.sha256}`,
      });
  };
  const head = (await deps.state.getJobState(manifest.jobId))?.chainHead;
  if (head && head.sequence === manifest.sequence)
    vouch(
      { key: head.manifestKey, sha256: head.manifestSha256, sequence: head.sequence },
      "the state table's chain head",
    );
  if (own)
    vouch(
      { key: own.manifestKey, sha256: own.manifestSha256, sequence: own.sequence },
      "the run's chain link",
    );
  if (own || (head && head.sequence === manifest.sequence)) return;
  if (!head || head.sequence < manifest.sequence) {
    problems.push({
      kind: 'chain_break',
      key,
      detail: `the state table's chain head (${head ? `sequence ${head.sequence}` : 'none'}) is before this manifest`,
    });
    return;
  }
  // Walk back from the head, by key, to the link of the manifest after this one.
  let link = head.previous;
  let from = "the state table's chain head";
  while (link && link.sequence > manifest.sequence) {
    const bytes = await deps.evidence.getObject(link.key);
    const next = bytes ? EvidenceManifest.safeParse(parseJson(decode(bytes))) : undefined;
    if (!next?.success) {
      problems.push({
        kind: 'chain_break',
        key,
        detail: `the chain from its head cannot be followed past ${link.key} (${bytes ? 'unreadable' : 'missing'})`,
      });
      return;
    }
    from = link.key;
    link = next.data.previousManifest;
  }
  if (!link)
    problems.push({
      kind: 'chain_break',
      key,
      detail: `no manifest after sequence ${manifest.sequence} links to it`,
    });
  else vouch(link, `the link of the manifest after it (${from})`);
}
