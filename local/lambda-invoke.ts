import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { LambdaInvocationError } from './errors';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';

/**
 * The error name Step Functions sees when a function runs past its own timeout. With the timeouts
 * of statemachines/timeouts.ts a state's TimeoutSeconds always comes first, so only
 * RequestApproval's invocation can meet this (docs/failure-semantics.md).
 */
export const FUNCTION_TIMEOUT_ERROR = 'Sandbox.Timedout';

/** Lambda's context object, as far as the handlers and Powertools use it. */
export function lambdaContext(functionName: string, timeoutSeconds: number): Context {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * What Lambda's Node.js runtime reports for a thrown value: an Error under its own name (a
 * TypeError is `TypeError`), anything else under its `typeof` (a thrown string is `string`).
 */
export function asReportedError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new LambdaInvocationError(typeof thrown, String(thrown));
}

/**
 * The invocation a callback belongs to, so an exception thrown outside its promise fails that
 * invocation.
 */
const invocationScope = new AsyncLocalStorage<{ crash: (error: Error) => void }>();
let inFlight = 0;

/**
 * An exception no promise of the handler caught (thrown from a timer or an event callback): in
 * Lambda the runtime reports it as the invocation's error under its name and the sandbox restarts.
 * Here the invocation it came from fails the same way; one from outside any invocation crashes as
 * usual.
 */
function onUncaught(error: unknown): void {
  const scope = invocationScope.getStore();
  if (scope) {
    scope.crash(asReportedError(error));
    return;
  }
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
}

/**
 * Invokes a handler as Lambda would, as far as Step Functions can tell: with a context whose
 * deadline is the function's timeout, failing with `Sandbox.Timedout` when it overruns, and with
 * the names Lambda reports for thrown values and for exceptions thrown outside the handler's
 * promise.
 */
export async function invokeLikeLambda<R>(
  handler: (event: unknown, context: Context) => Promise<R>,
  event: unknown,
  functionName: string,
  timeoutSeconds: number,
  onSandboxLost: () => void = () => undefined,
): Promise<R> {
  const context = lambdaContext(functionName, timeoutSeconds);
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  let crash: (error: Error) => void = () => undefined;
  const failed = new Promise<never>((_resolve, reject) => {
    crash = (error) => {
      onSandboxLost();
      // A leftover callback of an invocation that already answered: Lambda would fail a later one.
      if (settled)
        process.stderr.write(
          `${functionName}: after its invocation: ${error.stack ?? error.message}\n`,
        );
      reject(error);
    };
    const message = `RequestId: ${context.awsRequestId} Error: Task timed out after ${timeoutSeconds.toFixed(2)} seconds`;
    timer = setTimeout(
      () => crash(new LambdaInvocationError(FUNCTION_TIMEOUT_ERROR, message)),
      timeoutSeconds * 1000,
    );
  });
  if (inFlight++ === 0) process.on('uncaughtException', onUncaught);
  try {
    const invocation = invocationScope.run({ crash }, () =>
      Promise.resolve().then(() => handler(event, context)),
    );
    return await Promise.race([invocation, failed]);
  } catch (error) {
    throw asReportedError(error);
  } finally {
    settled = true;
    clearTimeout(timer);
    if (--inFlight === 0) process.off('uncaughtException', onUncaught);
  }
}
