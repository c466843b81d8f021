import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, test } from 'vitest';
import type { JobImplementation } from '../../functions/jobs/types';
import { LocalRuntime } from '../../local/runtime';
import { FakeSlack } from '../support/fake-http';
import { withTestJobs } from '../support/local';
import { memoryStack } from '../support/memory';

const SLACK_REF = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:mem-slack-AbCdEf';

/** Sends the same report (one dedupe key) on every run. */
const sameReport: JobImplementation = {
  jobId: 'test_same_report',
  async run(context) {
    const record = await context.notify({
      kind: 'report',
      dedupeKey: 'report/the-one-window',
      title: 'The one report',
      markdown: 'all green',
    });
    context.log('notified', { via: record.delivered_via, status: record.attempts[0]?.status });
    return { quality: 'OK', outputs: [], integrityReport: null, diagnostics: [] };
  },
};

describe('the notification chain on the in-memory ports (memoryStack): the memory ledger', () => {
  const slack = new FakeSlack();
  let stack: ReturnType<typeof memoryStack>;
  let runtime: LocalRuntime;

  beforeAll(async () => {
    await slack.start();
    stack = memoryStack({
      policyDir: withTestJobs([{ jobId: 'test_same_report' }], (p) => ({
        ...p,
        notifications: { slack: { webhookSecretRef: SLACK_REF } },
      })),
    });
    writeFileSync(
      stack.env.OPSRAIL_SECRETS_FILE as string,
      JSON.stringify({ [SLACK_REF]: slack.url }),
    );
    runtime = new LocalRuntime(stack.env, [sameReport], { ports: stack.ports });
  });
  afterAll(async () => {
    await stack.stop();
    await slack.stop();
  });

  test('two runs sending one dedupe key post to Slack once, with no DynamoDB behind the stage', async () => {
    // Act
    const first = await runtime.run({
      jobId: 'test_same_report',
      scheduledTime: '2026-06-01T00:00:00Z',
      trigger: 'manual',
    });
    const second = await runtime.run({
      jobId: 'test_same_report',
      scheduledTime: '2026-06-01T01:00:00Z',
      trigger: 'manual',
    });

    // Assess
    assert.deepEqual([first.kind, second.kind], ['completed', 'completed']);
    assert.equal(slack.received.length, 1, 'one post for one dedupe key');
  });
});
