import type { ExecutionInput } from '../contracts';
import type { StatusReport } from '../functions/core/controls';
import type { RunDependencies } from '../functions/core/run/dependencies';
import { deriveRunIdentity } from '../functions/core/run/dependencies';
import { holderOf, holderState, type HolderState } from '../local/holders';

/** Exit codes of `opsrail run` for a window that is claimed and not finished (README). */
const REFUSED = 3;
const USAGE = 2;

/**
 * `opsrail run` on a window that was claimed and never finished must not answer "already ran,
 * nothing written": it says who holds it and whether that process is gone, and offers `--resume`.
 * With `--resume` the run is taken over (Preflight's takeover) unless its holder still runs.
 */
export async function openRunCheck(
  deps: Pick<RunDependencies, 'policy' | 'state'>,
  request: ExecutionInput,
  resume: boolean,
): Promise<{ message: string; exitCode: number } | null> {
  const { jobRunId } = deriveRunIdentity(deps.policy, request);
  const item = await deps.state.getRun(jobRunId);
  const open = item?.phase === 'claimed' ? item : undefined;
  if (!open)
    return resume
      ? {
          message: `--resume: ${jobRunId} is not open (${item ? 'it has finished' : 'it never started'}); run it without --resume`,
          exitCode: USAGE,
        }
      : null;
  const holder = holderOf(open.executionId);
  const state: HolderState = holderState(open.executionId);
  const heldBy = `execution ${open.executionId}${holder ? ` (pid ${holder.pid}, ${state === 'gone' ? 'gone' : 'still running'})` : ''}`;
  if (state === 'alive')
    return {
      message: `${jobRunId} is being run now by ${heldBy}; nothing to do (lease until ${open.leaseExpiresAt})`,
      exitCode: REFUSED,
    };
  if (resume && state === 'unknown' && Date.parse(open.leaseExpiresAt) >= Date.now()) {
    return {
      message: `--resume: cannot tell whether the holder of ${jobRunId} (${heldBy}) still runs; it can be taken over after its lease, at ${open.leaseExpiresAt}`,
      exitCode: REFUSED,
    };
  }
  if (resume) return null;
  const why =
    state === 'gone' ? 'its process is gone' : `its lease runs until ${open.leaseExpiresAt}`;
  return {
    message: `${jobRunId} was claimed by ${heldBy} and never finished (${why}); no bundle was written for it yet. Take it over with: opsrail run ${request.jobId} --at ${request.scheduledTime} --resume`,
    exitCode: REFUSED,
  };
}

/** The status report with each open run's holder locally: `gone` means orphaned. */
export function withHolders(
  report: StatusReport,
  local: boolean,
): Omit<StatusReport, 'openRuns'> & {
  openRuns: (StatusReport['openRuns'][number] & { holder: HolderState; orphaned: boolean })[];
} {
  return {
    ...report,
    openRuns: report.openRuns.map((r) => {
      const holder = local ? holderState(r.executionId) : 'unknown';
      return { ...r, holder, orphaned: holder === 'gone' };
    }),
  };
}
