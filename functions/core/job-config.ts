import type { JobDefinition, PolicySnapshotRef, Stage, StagePolicy } from '../../contracts';
import { canonicalJson } from './hashing';
import type { ResolvedPolicy } from './policy';

/**
 * One job's configuration as a stage resolves it (docs/policy.md#a-jobs-resolved-configuration):
 * its catalog entry merged with the stage's switches, the stage-wide settings it runs under, and
 * the policy snapshot a run would pin. Two stages, or two versions of the policy, compare by
 * diffing this.
 */
export interface ResolvedJobConfig {
  stage: Stage;
  policySnapshot: PolicySnapshotRef;
  job: JobDefinition;
  /** What the stage's file says about this job (`jobs.<jobId>`), or null: declared, disabled. */
  stageSwitches: StagePolicy['jobs'][string] | null;
  /** The stage's settings every job runs under (all but the other jobs' switches). */
  stageSettings: Omit<StagePolicy, 'jobs' | '$schema'>;
}

export function resolvedJobConfig(
  policy: ResolvedPolicy,
  jobId: string,
): ResolvedJobConfig | undefined {
  const job = policy.jobs.find((j) => j.jobId === jobId);
  if (!job) return undefined;
  const { jobs, $schema: _schema, ...stageSettings } = policy.settings;
  return {
    stage: policy.stage,
    policySnapshot: policy.snapshot,
    job,
    stageSwitches: jobs[jobId] ?? null,
    stageSettings,
  };
}

/**
 * One `path = value` line per leaf, sorted: a line diff of two stages' outputs shows exactly the
 * settings that differ.
 */
export function configLines(value: unknown): string[] {
  const lines: string[] = [];
  const walk = (v: unknown, path: string) => {
    if (v !== null && typeof v === 'object' && Object.keys(v).length > 0) {
      const entries = Array.isArray(v)
        ? v.map((item, i) => [String(i), item] as const)
        : Object.entries(v as Record<string, unknown>);
      for (const [key, item] of entries) walk(item, path ? `${path}.${key}` : key);
    } else lines.push(`${path} = ${canonicalJson(v) ?? 'undefined'}`);
  };
  walk(value, '');
  return lines.sort();
}

/** The configuration as JSON with keys sorted at every level, so equal configs print the same. */
export const configJson = (value: unknown): string =>
  JSON.stringify(JSON.parse(canonicalJson(value)), null, 2);
