/**
 * How long each job-run step may take, in one place (docs/failure-semantics.md). A Lambda-backed
 * state's budget is its `TimeoutSeconds` in statemachines/job-run.asl.json; its function's timeout
 * is longer by FUNCTION_TIMEOUT_MARGIN_SECONDS, so an overrunning step always surfaces as the
 * state's `States.Timeout` (retried per policy) and never as the function's own timeout, which AWS
 * reports as `Lambda.Unknown` (or `Sandbox.Timedout`), the names of crashes and out-of-memory,
 * which are not retried. Infra sizes the functions from here; the local runtime enforces the same
 * function timeouts. No fs and no import.meta here: the handlers' bundles import it.
 */

/** Seconds a function may outlive its state: the invocation starts after the state's clock does. */
export const FUNCTION_TIMEOUT_MARGIN_SECONDS = 10;

/** Lambda's own ceiling for a function timeout. */
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

/**
 * Functions whose timeout is not their state's: RequestApproval's state waits for a human
 * (`approvals.timeoutSeconds`), its invocation only stores and announces the request;
 * ExecutionEnded and the approval endpoint are not states of the machine.
 */
export const FIXED_FUNCTION_TIMEOUT_SECONDS = {
  'request-approval': 60,
  'execution-ended': 240,
} as const;

export type StateTimeouts = Record<string, number>;

/** The TimeoutSeconds of every Task state of a (substituted or not) job-run definition. */
export function stateTimeoutsOf(definition: {
  States: Record<string, { Type?: string; TimeoutSeconds?: unknown }>;
}): StateTimeouts {
  const timeouts: StateTimeouts = {};
  for (const [state, body] of Object.entries(definition.States)) {
    if (body.Type === 'Task' && typeof body.TimeoutSeconds === 'number')
      timeouts[state] = body.TimeoutSeconds;
  }
  return timeouts;
}

/** A Lambda-backed state's function timeout: its state's budget plus the margin. */
export function functionTimeoutFor(stateTimeoutSeconds: number): number {
  return stateTimeoutSeconds + FUNCTION_TIMEOUT_MARGIN_SECONDS;
}
