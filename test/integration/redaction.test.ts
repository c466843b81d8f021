import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { JobFailedError } from '../../functions/core/errors';
import type { JobImplementation } from '../../functions/jobs/types';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { CANARIES, CUSTOM_PATTERN } from '../support/canaries';
import { listKeys } from '../support/evidence';
import { testStack, withTestJobs } from '../support/local';

const allCanaries = Object.values(CANARIES).join(' | ');
/** A fragment distinctive enough to find each canary even if only part of it leaked. */
const fragments = Object.values(CANARIES).map((c) =>
  c.replace(/^-----BEGIN RSA PRIVATE KEY-----\n/, '').slice(0, 16),
);

const leakyJob: JobImplementation = {
  jobId: 'leaky_output',
  async run(context) {
    context.log(`talking to the API with ${allCanaries}`, {
      headers: { authorization: CANARIES.bearer_token },
    });
    return {
      quality: 'OK',
      outputs: [
        {
          name: 'report.json',
          contentType: 'application/json',
          body: JSON.stringify({ summary: `contact ${CANARIES.email}`, config: allCanaries }),
        },
        { name: 'report.txt', contentType: 'text/plain', body: allCanaries },
      ],
      integrityReport: null,
      diagnostics: [{ level: 'info', code: 'debug', message: allCanaries }],
    };
  },
};
const leakyFailure: JobImplementation = {
  jobId: 'leaky_failure',
  async run(context) {
    context.log(`retrying with ${CANARIES.github_token}`);
    throw new JobFailedError('validation', `request rejected; request was ${allCanaries}`);
  },
};

describe('no secret reaches storage or logs: a canary per pattern through outputs, errors and logs', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  const printed: string[] = [];
  let restore = () => {};

  beforeAll(async () => {
    const policyDir = withTestJobs(
      [{ jobId: 'leaky_output' }, { jobId: 'leaky_failure' }],
      (p) => ({ ...p, redaction: { placeholder: '[REDACTED]', patterns: [CUSTOM_PATTERN] } }),
    );
    stack = await testStack({ policyDir });
    runtime = new LocalRuntime({ ...stack.env, POWERTOOLS_LOG_LEVEL: 'DEBUG' }, [
      leakyJob,
      leakyFailure,
    ]);
    const write = process.stdout.write.bind(process.stdout);
    const writeErr = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      printed.push(chunk.toString());
      return true;
    }) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array) => {
      printed.push(chunk.toString());
      return true;
    }) as typeof process.stderr.write;
    restore = () => {
      process.stdout.write = write;
      process.stderr.write = writeErr;
    };
  });
  afterAll(async () => {
    restore();
    await stack.stop();
  });

  test('outputs, errors and log lines are redacted before anything is written', async () => {
    const ok = await runtime.run({
      jobId: 'leaky_output',
      scheduledTime: '2026-07-01T00:00:00Z',
      trigger: 'schedule',
    });
    const failed = await runtime.run({
      jobId: 'leaky_failure',
      scheduledTime: '2026-07-01T00:00:00Z',
      trigger: 'schedule',
    });
    restore();

    assert.equal(ok.kind, 'completed');
    assert.equal(failed.kind, 'failed');
    // Everything stored: every evidence object, every item of both tables, every printed line.
    const keys = await listKeys(stack.env, 'stage=local/');
    const stored = await Promise.all(
      keys.map(
        async (k) => `${k}\n${new TextDecoder().decode(await runtime.deps.evidence.getObject(k))}`,
      ),
    );
    const dynamodb = new DynamoDBClient({
      region: stack.env.AWS_REGION,
      endpoint: stack.env.AWS_ENDPOINT_URL_DYNAMODB,
    });
    for (const table of [stack.env.STATE_TABLE_NAME, stack.env.IDEMPOTENCY_TABLE_NAME])
      stored.push(
        JSON.stringify((await dynamodb.send(new ScanCommand({ TableName: table }))).Items),
      );
    dynamodb.destroy();
    const everything = [...stored, ...printed, JSON.stringify(ok), JSON.stringify(failed)].join(
      '\n',
    );

    assert.ok(
      printed.some((line) => line.includes('talking to the API')),
      'the job log was written (DEBUG level)',
    );
    assert.ok(keys.some((k) => k.endsWith('/report.json')));
    assert.ok(everything.includes('[REDACTED]'));
    for (const [i, fragment] of fragments.entries())
      assert.ok(!everything.includes(fragment), `canary ${Object.keys(CANARIES)[i]} leaked`);
    const report = stored.find((s) => s.includes('/report.json\n'));
    assert.doesNotThrow(
      () => JSON.parse(report!.split('\n').slice(1).join('\n')),
      'a redacted JSON output is still JSON',
    );
  });
});
