import { RequestApprovalEvent } from '../../contracts';
import { logOnlyNotify } from '../core/notifications';
import { planOf, requestApproval } from '../core/approvals';
import { ConfigurationError } from '../core/errors';
import { parseEvent } from '../core/handler-kit';
import { findJob } from '../core/policy';
import { unavailableSecrets, unavailableWebhooks } from '../core/run/execute';
import { approvalGate, type Dependencies } from '../adapters/dependencies';
import { lambdaHandler, logged, stepLogger, type StepHandler } from '../adapters/lambda';
import { plannedJobs } from '../jobs/control-jobs';

/**
 * The RequestApproval state (lambda:invoke.waitForTaskToken): stores and announces the request; the
 * task then waits.
 */
export function createRequestApprovalHandler(
  deps: Dependencies,
): StepHandler<{ approvalId: string; link: string }> {
  const logger = stepLogger(deps, 'request-approval');
  const gate = approvalGate(deps);
  return async (event) => {
    const { run, taskToken } = parseEvent(RequestApprovalEvent, event, 'RequestApproval event');
    return logged(logger, { jobRunId: run.jobRunId }, async () => {
      const job = findJob(deps.policy, run.jobId);
      if (!job?.dangerous.value)
        throw new ConfigurationError(
          `job '${run.jobId}' is not a dangerous op: nothing to approve`,
        );
      const implementation = deps.jobs.get(job.jobId);
      const context = {
        job,
        run,
        policy: deps.policy,
        clock: deps.clock,
        state: deps.state,
        evidence: deps.evidence,
        secrets: deps.secrets ?? unavailableSecrets,
        webhooks: deps.webhooks ?? unavailableWebhooks,
        notify: deps.notify ?? logOnlyNotify(deps.log, () => deps.clock.now()),
        log: deps.log,
        control: deps,
      };
      const plan = await planOf(job, implementation, context);
      const { record, link } = await requestApproval(await gate(), run, {
        opKind: job.dangerous.opKind,
        plan,
        requestedBy: run.requestedBy,
        taskToken,
      });
      return { approvalId: record.approvalId, link };
    });
  };
}

export const handler = lambdaHandler('request-approval', createRequestApprovalHandler, plannedJobs);
