import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The crash bench's jobs: one that must never run twice, one that may (idempotent). */
export const BENCH_JOBS = [
  { jobId: 'crash_counter', idempotent: false },
  { jobId: 'crash_keyed', idempotent: true },
] as const;

/**
 * Lease of the bench's runs: short, so a run whose holder was killed is taken over within seconds.
 */
export const BENCH_LEASE_SECONDS = 5;

const BASE = Date.parse('2026-03-01T00:00:00Z');
/** The i-th tick of the bench's jobs: one a minute, in the past (their inputs exist). */
export const tickAt = (i: number): string =>
  new Date(BASE + i * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A copy of policy/ with the bench's jobs in the catalog, enabled in the local stage. */
export function benchPolicyDir(policyDir: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'opsrail-crash-policy-'));
  cpSync(policyDir, dir, { recursive: true });
  const edit = (file: string, change: (json: any) => unknown) =>
    writeFileSync(
      join(dir, file),
      `${JSON.stringify(change(JSON.parse(readFileSync(join(dir, file), 'utf8'))), null, 2)}\n`,
    );
  edit('catalog.json', (catalog) => ({
    ...catalog,
    jobs: [
      ...catalog.jobs,
      ...BENCH_JOBS.map((j) => ({
        jobId: j.jobId,
        jobVersion: '1.0.0',
        jobClass: 'MAINTENANCE',
        owner: 'bench',
        description: `crash bench: a counted effect (${j.idempotent ? 'idempotent' : 'not idempotent'})`,
        idempotent: j.idempotent,
        schedule: { expression: 'rate(1 hour)' },
        window: { kind: 'tick', minutes: 1 },
        // The workers run distinct windows of one job at once, on purpose (docs/scheduling.md#overlap).
        overlap: 'allow',
      })),
    ],
  }));
  edit('local.json', (policy) => ({
    ...policy,
    retry: { maxAttempts: 2, intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 2 },
    thresholds: { ...policy.thresholds, runLeaseSeconds: BENCH_LEASE_SECONDS },
    // Only the bench's jobs: the built-in ones would run on their own schedules meanwhile.
    jobs: Object.fromEntries(BENCH_JOBS.map((j) => [j.jobId, { enabled: true }])),
  }));
  return dir;
}
