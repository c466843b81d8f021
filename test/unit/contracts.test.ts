import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'vitest';
import {
  AuditEvent,
  AuditEventType,
  ExecutionInput,
  JobDefinition,
  publishedContracts,
  RunRecord,
} from '../../contracts';
import { renderJsonSchemas } from '../../contracts/json-schema';

const CONTRACTS_DIR = join(import.meta.dirname, '..', '..', 'contracts');

test('the checked-in contracts/*.schema.json are exactly what the zod schemas produce (run npm run contracts)', () => {
  const rendered = renderJsonSchemas();
  const onDisk = readdirSync(CONTRACTS_DIR).filter((f) => f.endsWith('.schema.json'));
  assert.deepEqual(
    onDisk.sort(),
    Object.keys(rendered)
      .map((n) => `${n}.schema.json`)
      .sort(),
    'a schema file is missing or stale',
  );
  for (const [name, text] of Object.entries(rendered)) {
    assert.equal(
      readFileSync(join(CONTRACTS_DIR, `${name}.schema.json`), 'utf8'),
      text,
      `contracts/${name}.schema.json differs from the zod schema`,
    );
  }
});

test('the published contracts include the run evidence contracts (docs/evidence.md)', () => {
  for (const name of [
    'job_definition',
    'run_record',
    'audit_event',
    'evidence_manifest',
    'replay_pointers',
    'integrity_report',
  ]) {
    assert.ok(name in publishedContracts, name);
  }
});

test('audit_event covers every type of the audit taxonomy (docs/evidence.md#audit-events)', () => {
  for (const type of [
    'job.run.start',
    'job.run.end',
    'job.run.fail',
    'job.run.retry',
    'job.run.quarantine.enter',
    'job.run.quarantine.exit',
    'job.dangerous_op.challenge',
    'job.dangerous_op.confirm',
    'job.dangerous_op.reject',
    'job.failover',
    'integrity.record',
    'gate.record',
    'support_bundle.created',
    'job.run.duplicate_suppressed',
  ]) {
    assert.ok(AuditEventType.options.includes(type as never), type);
  }
});

const baseEvent = {
  schemaVersion: 1,
  eventId: 'e1',
  at: '2026-01-01T00:00:00Z',
  stage: 'local',
  jobId: 'some_job',
  jobRunId: 'some_job/2026-01-01T00:00:00Z',
  actor: { kind: 'system', id: 'opsrail' },
};

test('audit_event requires the fields its type names', () => {
  const fail = AuditEvent.safeParse({ ...baseEvent, type: 'job.run.fail' });
  assert.equal(fail.success, false);
  assert.deepEqual(fail.error?.issues.map((i) => i.path.join('.')).sort(), [
    'error',
    'evidenceRefs',
  ]);
  const ok = AuditEvent.safeParse({
    ...baseEvent,
    type: 'job.run.fail',
    error: { kind: 'validation', name: 'ValidationError', message: 'x' },
    evidenceRefs: ['k'],
  });
  assert.equal(ok.success, true);
  assert.equal(
    AuditEvent.safeParse({
      ...baseEvent,
      type: 'job.run.retry',
      retry: { count: 1, reason: '503' },
    }).success,
    true,
  );
  assert.equal(AuditEvent.safeParse({ ...baseEvent, type: 'job.run.explode' }).success, false);
});

test('run_record allows only ok|error|skipped|dry_run and carries duration_ms, attempts, artefacts, diagnostics', () => {
  const shape = RunRecord.shape;
  assert.deepEqual(shape.status.options, ['ok', 'error', 'skipped', 'dry_run']);
  for (const field of ['duration_ms', 'attempts', 'artefacts', 'diagnostics', 'jobId', 'jobRunId'])
    assert.ok(field in shape, field);
});

test('a job definition defaults to disabled (opt-in) and rejects an unknown class, a bad SemVer and a bad schedule', () => {
  const job = {
    jobId: 'a_job',
    jobVersion: '1.0.0',
    jobClass: 'VALIDATION',
    owner: 'me',
    description: 'd',
    environment: 'dev',
    schedule: { expression: 'rate(1 hour)', timezone: 'UTC' },
  };
  assert.equal(JobDefinition.parse(job).enabled, false);
  const bad = JobDefinition.safeParse({
    ...job,
    jobClass: 'CHAOS',
    jobVersion: 'v1',
    schedule: { expression: 'cron(0 9 * * * *)', timezone: 'Mars/Olympus' },
  });
  assert.deepEqual(bad.error?.issues.map((i) => i.path.join('.')).sort(), [
    'jobClass',
    'jobVersion',
    'schedule.expression',
    'schedule.timezone',
  ]);
});

test('the execution input names a bad field', () => {
  const bad = ExecutionInput.safeParse({ jobId: 'Bad Job', scheduledTime: 'tomorrow' });
  assert.deepEqual(bad.error?.issues.map((i) => i.path.join('.')).sort(), [
    'jobId',
    'scheduledTime',
  ]);
  assert.equal(
    ExecutionInput.parse({ jobId: 'a_job', scheduledTime: '2026-01-01T00:00:00Z' }).trigger,
    'schedule',
  );
});
