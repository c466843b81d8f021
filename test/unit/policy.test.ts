import assert from 'node:assert/strict';
import { test } from 'vitest';
import { directoryPolicySource } from '../../functions/adapters/policy-sources';
import { ValidationError } from '../../functions/core/errors';
import { loadPolicy } from '../../functions/core/policy';
import { DEFAULT_POLICY_DIR } from '../../local/stack';
import { policyFixture } from '../support/local';

const load = (dir: string, stage: 'local' | 'dev' | 'stage' | 'prod' = 'local') =>
  loadPolicy(directoryPolicySource(dir), stage);

function assertFails(
  dir: string,
  file: string,
  field: string,
  message: RegExp,
  stage: 'local' | 'dev' = 'local',
) {
  assert.throws(
    () => load(dir, stage),
    (error: unknown) => {
      assert.ok(error instanceof ValidationError, `expected ValidationError, got ${String(error)}`);
      assert.ok(error.source.endsWith(file), `error names ${error.source}, expected …${file}`);
      assert.ok(
        error.issues.some((i) => i.path === field && message.test(i.message)),
        `no issue at ${field} matching ${message}: ${JSON.stringify(error.issues)}`,
      );
      assert.ok(error.message.includes(field));
      return true;
    },
  );
}

test('every shipped stage policy loads, and evidence_integrity_check is enabled locally', () => {
  for (const stage of ['local', 'dev', 'stage', 'prod'] as const) {
    const policy = load(DEFAULT_POLICY_DIR, stage);
    assert.equal(policy.stage, stage);
    assert.match(policy.snapshot.sha256, /^[a-f0-9]{64}$/);
  }
  const check = load(DEFAULT_POLICY_DIR).jobs.find((j) => j.jobId === 'evidence_integrity_check');
  assert.equal(check?.enabled, true);
  assert.equal(check?.jobClass, 'VALIDATION');
});

test('a job that a stage does not mention is disabled there (opt-in)', () => {
  const dir = policyFixture({ 'local.json': (p) => ({ ...p, jobs: {} }) });
  assert.equal(
    load(dir).jobs.every((j) => !j.enabled),
    true,
  );
});

test('a schedule without a time zone gets the stage default, Asia/Tokyo unless the stage says otherwise', () => {
  const noZone = (c: any) => ({
    ...c,
    jobs: c.jobs.map((j: any) => ({ ...j, schedule: { expression: j.schedule.expression } })),
  });
  assert.equal(
    load(policyFixture({ 'catalog.json': noZone }), 'local').jobs[0]?.schedule.timezone,
    'Asia/Tokyo',
  );
  const dir = policyFixture({
    'catalog.json': noZone,
    'local.json': (p) => ({ ...p, timezone: 'Europe/Berlin' }),
  });
  assert.equal(load(dir).jobs[0]?.schedule.timezone, 'Europe/Berlin');
});

test('an invalid schedule expression is rejected naming the file and field', () => {
  const dir = policyFixture({
    'catalog.json': (c) => ({
      ...c,
      jobs: [{ ...c.jobs[0], schedule: { expression: 'cron(0 9 * * *)' } }],
    }),
  });
  assertFails(dir, 'catalog.json', 'jobs.0.schedule.expression', /6 fields/);
});

test('an unknown time zone is rejected naming the field', () => {
  const dir = policyFixture({
    'catalog.json': (c) => ({
      ...c,
      jobs: [{ ...c.jobs[0], schedule: { expression: 'rate(1 hour)', timezone: 'Asia/Atlantis' } }],
    }),
  });
  assertFails(dir, 'catalog.json', 'jobs.0.schedule.timezone', /IANA/);
});

test('a wrong type, a missing setting and an unknown key are named', () => {
  assertFails(
    policyFixture({ 'local.json': (p) => ({ ...p, retry: { ...p.retry, maxAttempts: 'three' } }) }),
    'local.json',
    'retry.maxAttempts',
    /number/,
  );
  assertFails(
    policyFixture({ 'local.json': ({ thresholds: _t, ...p }) => p }),
    'local.json',
    'thresholds',
    /object/,
  );
  assertFails(
    policyFixture({ 'local.json': (p) => ({ ...p, retrys: 3 }) }),
    'local.json',
    '',
    /retrys/,
  );
});

test('a stage cannot switch on a job the catalog does not declare (no hidden jobs)', () => {
  assertFails(
    policyFixture({
      'local.json': (p) => ({ ...p, jobs: { ...p.jobs, ghost_job: { enabled: true } } }),
    }),
    'local.json',
    'jobs.ghost_job',
    /not declared/,
  );
});

test('a job id declared twice is rejected (ids are never reused)', () => {
  assertFails(
    policyFixture({ 'catalog.json': (c) => ({ ...c, jobs: [c.jobs[0], c.jobs[0]] }) }),
    'catalog.json',
    'jobs.1.jobId',
    /already declared/,
  );
});

test('built-in job parameters are validated at load', () => {
  assertFails(
    policyFixture({
      'local.json': (p) => ({
        ...p,
        jobs: { evidence_integrity_check: { enabled: true, params: { bundlesPerJob: 0 } } },
      }),
    }),
    'local.json',
    'jobs.evidence_integrity_check.params.bundlesPerJob',
    />=1|too small/i,
  );
});

test('a file that is not JSON, or is missing, is named', () => {
  const dir = policyFixture({});
  const broken = {
    ...directoryPolicySource(dir),
    read: (f: string) => (f === 'dev.json' ? '{ "stage": ' : directoryPolicySource(dir).read(f)),
  };
  assert.throws(
    () => loadPolicy(broken, 'dev'),
    (e: unknown) =>
      e instanceof ValidationError &&
      /dev\.json/.test(e.message) &&
      /not valid JSON/.test(e.message),
  );
  const missing = {
    ...directoryPolicySource(dir),
    read: (f: string) => (f === 'prod.json' ? undefined : directoryPolicySource(dir).read(f)),
  };
  assert.throws(
    () => loadPolicy(missing, 'prod'),
    (e: unknown) =>
      e instanceof ValidationError && /prod\.json/.test(e.message) && /not found/.test(e.message),
  );
});

test('a stage file that claims another stage is rejected', () => {
  assertFails(
    policyFixture({ 'dev.json': (p) => ({ ...p, stage: 'prod' }) }),
    'dev.json',
    'stage',
    /file is for stage 'dev'/,
    'dev',
  );
});

test('a notifications section loads, and a secret given in place of its secret_ref is refused naming the field', () => {
  // Prepare
  const slackRef = 'arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:opsrail/slack-AbCdEf';
  const github = {
    owner: 'opsrail-org',
    repo: 'ops',
    issueNumber: 42,
    tokenSecretRef: 'arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:opsrail/gh-AbCdEf',
  };
  const good = policyFixture({
    'local.json': (p) => ({
      ...p,
      notifications: { slack: { webhookSecretRef: slackRef }, github },
    }),
  });
  const plainUrl = policyFixture({
    'local.json': (p) => ({
      ...p,
      notifications: { slack: { webhookSecretRef: 'https://hooks.slack.com/services/T/B/x' } },
    }),
  });
  const badIssue = policyFixture({
    'local.json': (p) => ({ ...p, notifications: { github: { ...github, issueNumber: 0 } } }),
  });
  // Act
  const loaded = load(good).settings.notifications;
  // Assess
  assert.equal(loaded.slack?.webhookSecretRef, slackRef);
  assert.equal(loaded.github?.issueNumber, 42);
  assert.deepEqual(load(DEFAULT_POLICY_DIR).settings.notifications, {});
  assertFails(plainUrl, 'local.json', 'notifications.slack.webhookSecretRef', /secret_ref/);
  assertFails(badIssue, 'local.json', 'notifications.github.issueNumber', />=1|too small/i);
});
