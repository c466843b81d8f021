import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HandlerEnv, LambdaStandIn } from '../../contracts';
import {
  ConfigurationError,
  DependencyError,
  errorForHttpStatus,
  NotFoundError,
} from '../core/errors';
import type { ResolvedPolicy } from '../core/policy';
import type {
  FunctionInvoker,
  InvokeAnswer,
  JobKindPorts,
  SecretReader,
} from '../jobs/kinds/ports';
import { readSecret } from './approval-adapters';
import { wrapAwsError } from './aws-errors';
import { onFirstUse, sdk } from './aws-sdk';

/** In AWS: Secrets Manager and Lambda, with the function's (the job's) own role. */
export function awsJobKindPorts(env: HandlerEnv): JobKindPorts {
  // Each client loaded by the first job that needs it (functions/adapters/aws-sdk.ts).
  const secrets = onFirstUse(
    async () => new (await sdk.secretsManager()).SecretsManagerClient({ region: env.AWS_REGION }),
  );
  const lambda = onFirstUse(
    async () => new (await sdk.lambda()).LambdaClient({ region: env.AWS_REGION }),
  );
  return {
    secrets: {
      read: async (ref) => readSecret(await secrets(), ref),
    },
    functions: {
      async invoke(_jobId, functionArn, request) {
        let out;
        try {
          const { InvokeCommand } = await sdk.lambda();
          out = await (await lambda()).send(
            new InvokeCommand({
              FunctionName: functionArn,
              InvocationType: 'RequestResponse',
              Payload: new TextEncoder().encode(JSON.stringify(request)),
            }),
          );
        } catch (error) {
          throw wrapAwsError(`Lambda Invoke ${functionArn}`, error);
        }
        const text = out.Payload ? new TextDecoder().decode(out.Payload) : 'null';
        return {
          payload: parseJson(text),
          ...(out.FunctionError ? { functionError: out.FunctionError } : {}),
        };
      },
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Locally: secret values from $OPSRAIL_SECRETS_FILE (never the repository), lambda jobs against
 * their stand-ins.
 */
export function localJobKindPorts(env: HandlerEnv, policy: ResolvedPolicy): JobKindPorts {
  const secrets: SecretReader = {
    async read(ref) {
      const file = env.OPSRAIL_SECRETS_FILE;
      const values =
        file && existsSync(file)
          ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)
          : {};
      const value = values[ref];
      if (typeof value !== 'string')
        throw new NotFoundError(
          `secret ${ref} is not in the local secrets file (${file ?? 'OPSRAIL_SECRETS_FILE unset'})`,
        );
      return value;
    },
  };
  const policyDir = env.OPSRAIL_POLICY_DIR ?? process.cwd();
  const functions: FunctionInvoker = {
    async invoke(jobId, functionArn, request) {
      const standIn = policy.settings.jobs[jobId]?.standIn;
      if (!standIn)
        throw new ConfigurationError(
          `lambda job '${jobId}' has no stand-in in policy/local.json (jobs.${jobId}.standIn) for ${functionArn}`,
        );
      return invokeStandIn(standIn, policyDir, request);
    },
  };
  return { secrets, functions };
}

/**
 * A module's `handler(event)` as Lambda would run it (a throw is a function error), or a local URL
 * answering like Invoke.
 */
async function invokeStandIn(
  standIn: LambdaStandIn,
  policyDir: string,
  request: unknown,
): Promise<InvokeAnswer> {
  if ('module' in standIn) {
    const file = isAbsolute(standIn.module) ? standIn.module : join(policyDir, standIn.module);
    const loaded = (await import(pathToFileURL(file).href)) as {
      handler?: (event: unknown) => Promise<unknown>;
    };
    if (typeof loaded.handler !== 'function')
      throw new ConfigurationError(`stand-in ${file} exports no handler function`);
    try {
      return {
        payload: JSON.parse(
          JSON.stringify((await loaded.handler(structuredClone(request))) ?? null),
        ),
      };
    } catch (error) {
      return {
        payload: {
          errorType: (error as Error).name ?? 'Error',
          errorMessage: (error as Error).message ?? String(error),
        },
        functionError: 'Unhandled',
      };
    }
  }
  let response: Response;
  try {
    response = await fetch(standIn.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new DependencyError(`stand-in ${standIn.url} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const text = await response.text();
  if (!response.ok)
    throw errorForHttpStatus(
      response.status,
      `stand-in ${standIn.url}`,
      response.headers.get('retry-after'),
    );
  const functionError = response.headers.get('x-amz-function-error');
  return { payload: parseJson(text), ...(functionError ? { functionError } : {}) };
}
