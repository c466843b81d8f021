import type { ResolvedPolicy } from '../functions/core/policy';
import { lintSchedules, type ScheduleLintFinding } from '../functions/core/schedule-lint';

/**
 * `opsrail jobs --lint`: the schedule lint findings of every job of the stage
 * (docs/scheduling.md#lint). Findings are warnings: the exit code stays 0.
 */
export function printJobsLint(policy: ResolvedPolicy, now: Date, json: boolean): void {
  const enabled = new Map(policy.jobs.map((job) => [job.jobId, job.enabled]));
  const findings: (ScheduleLintFinding & { enabled: boolean })[] = lintSchedules(
    policy.jobs,
    now,
  ).map((f) => ({ ...f, enabled: enabled.get(f.jobId) ?? false }));
  if (json) {
    console.log(JSON.stringify({ stage: policy.stage, now: now.toISOString(), findings }, null, 2));
    return;
  }
  const count = `${findings.length} finding${findings.length === 1 ? '' : 's'}`;
  console.log(
    `stage ${policy.stage}: ${count} in ${policy.jobs.length} jobs, looking a year ahead of ` +
      `${now.toISOString()} (warnings; docs/scheduling.md#lint)`,
  );
  for (const f of findings)
    console.log(`warning ${f.jobId}${f.enabled ? '' : ' (disabled)'} ${f.code}: ${f.message}`);
}
