import type { LambdaJobRequest } from '../../../contracts';

/** Reads a secret's value by its secret_ref at run time; the value is never stored or logged. */
export interface SecretReader {
  read(secretRef: string): Promise<string>;
}

/** What Lambda's Invoke answered: the function's payload, and its error type when it failed. */
export interface InvokeAnswer {
  payload: unknown;
  /**
   * Set when the function itself failed (Lambda's X-Amz-Function-Error): the payload is {errorType,
   * errorMessage}.
   */
  functionError?: string;
}

/**
 * Invokes a `lambda` job's function (RequestResponse). Throws the typed errors for the call's own
 * failures.
 */
export interface FunctionInvoker {
  invoke(jobId: string, functionArn: string, request: LambdaJobRequest): Promise<InvokeAnswer>;
}

/** What the http and lambda kinds reach outside: secrets and functions. */
export interface JobKindPorts {
  secrets: SecretReader;
  functions: FunctionInvoker;
}
