import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import fc from 'fast-check';
import { type ApprovalDecision, ApprovalRecord, type NotificationRecord } from '../../contracts';
import { DynamoDbApprovalStore } from '../../functions/adapters/dynamodb-approval-store';
import { MemoryApprovalStore } from '../../functions/adapters/memory-approval-store';
import type { ApprovalAttempt, ApprovalStore } from '../../functions/core/approvals';
import { dynamoDbTables } from '../support/dynamodb';

const newId = () => randomBytes(16).toString('hex');
const record = (approvalId = newId(), overrides: Partial<ApprovalRecord> = {}): ApprovalRecord => ({
  schemaVersion: 1,
  approvalId,
  jobId: 'approval_job',
  jobVersion: '1.0.0',
  jobRunId: `approval_job/${approvalId}`,
  opKind: 'retention',
  plan: { summary: 'purge old rows', details: { rows: 3 } },
  requestedBy: 'alice',
  allowedApprovers: ['bob', 'carol'],
  minApprovals: 2,
  decisions: [],
  challenge: 'retention-abc123',
  createdAt: '2026-05-01T00:00:00Z',
  expiresAt: '2026-05-01T01:00:00Z',
  status: 'PENDING',
  decidedBy: null,
  decidedAt: null,
  reason: null,
  deliveries: [],
  ...overrides,
});
const decision = (by: string, verdict: 'approve' | 'reject' = 'approve'): ApprovalDecision => ({
  by,
  decision: verdict,
  at: '2026-05-01T00:10:00Z',
  source: 'local',
  reason: null,
});
const closing = (status: ApprovalRecord['status'], by: string | null = 'bob') => ({
  status,
  decidedBy: by,
  decidedAt: '2026-05-01T00:10:00Z',
  reason: status === 'REJECTED' ? 'no' : null,
});
const attempt = (n: number): ApprovalAttempt => ({
  at: '2026-05-01T00:05:00Z',
  method: 'POST',
  source: 'local',
  identity: `who${n}`,
  userAgent: 'test',
  outcome: 'bad_challenge',
});

/**
 * The ApprovalStore contract, run over DynamoDbApprovalStore (DynamoDB Local) and
 * MemoryApprovalStore.
 */
function approvalStoreSuite(
  name: string,
  open: () => Promise<{ store: ApprovalStore; close: () => Promise<void> }>,
) {
  describe(`ApprovalStore contract: ${name}`, () => {
    let store: ApprovalStore;
    let close: () => Promise<void>;
    beforeAll(async () => ({ store, close } = await open()));
    afterAll(async () => close());

    test('putApproval stores once (a retried request is refused) and lists the request as pending; the token is kept with it', async () => {
      const r = record();
      assert.equal(await store.putApproval(r, 'token-1'), true);
      assert.equal(
        await store.putApproval({ ...r, challenge: 'retention-other1' }, 'token-2'),
        false,
      );
      const stored = await store.getApproval(r.approvalId);
      assert.deepEqual(stored, {
        record: r,
        taskToken: 'token-1',
        attempts: [],
        attemptsNotStored: 0,
      });
      assert.ok((await store.listPendingApprovals()).some((p) => p.approvalId === r.approvalId));
      assert.equal(await store.getApproval(newId()), undefined);
    });

    test('concurrent puts of one request: exactly one is stored', async () => {
      const r = record();
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          store.putApproval({ ...r, challenge: `retention-${i}xxxxx` }, `token-${i}`),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(
        (await store.getApproval(r.approvalId))?.taskToken,
        `token-${results.indexOf(true)}`,
      );
    });

    test('decideApproval closes only from the expected state, and leaves the pending list', async () => {
      const r = record();
      await store.putApproval(r, 't');
      assert.equal(
        await store.decideApproval(r.approvalId, closing('EXPIRED', null), 'APPROVED'),
        false,
        'not in that state',
      );
      assert.equal(await store.decideApproval(r.approvalId, closing('EXPIRED', null)), true);
      assert.equal(
        await store.decideApproval(r.approvalId, closing('APPROVED')),
        false,
        'no longer pending',
      );
      assert.equal(
        await store.decideApproval(newId(), closing('EXPIRED', null)),
        false,
        'no such request',
      );
      const stored = (await store.getApproval(r.approvalId))!.record;
      assert.deepEqual([stored.status, stored.decidedBy, stored.reason], ['EXPIRED', null, null]);
      assert.ok(!(await store.listPendingApprovals()).some((p) => p.approvalId === r.approvalId));
      assert.equal(
        await store.decideApproval(r.approvalId, closing('PENDING', null), 'EXPIRED'),
        true,
        'from a named state',
      );
    });

    test('addDecision is optimistic on the count it expects; the settling decision closes the request in the same write', async () => {
      const r = record();
      await store.putApproval(r, 't');
      assert.equal(
        await store.addDecision(r.approvalId, decision('bob'), 1, null),
        false,
        'expects one that is not there',
      );
      assert.equal(await store.addDecision(r.approvalId, decision('bob'), 0, null), true);
      assert.equal(
        await store.addDecision(r.approvalId, decision('carol'), 0, closing('APPROVED', 'carol')),
        false,
        'stale count',
      );
      assert.equal(
        await store.addDecision(r.approvalId, decision('carol'), 1, closing('APPROVED', 'carol')),
        true,
      );
      const stored = (await store.getApproval(r.approvalId))!.record;
      assert.deepEqual(stored.decisions, [decision('bob'), decision('carol')]);
      assert.deepEqual([stored.status, stored.decidedBy], ['APPROVED', 'carol']);
      assert.ok(!(await store.listPendingApprovals()).some((p) => p.approvalId === r.approvalId));
      assert.equal(
        await store.addDecision(r.approvalId, decision('dave'), 2, null),
        false,
        'closed',
      );
      assert.equal(
        await store.addDecision(newId(), decision('dave'), 0, null),
        false,
        'no such request',
      );
    });

    test('concurrent decisions on the same count: exactly one is added, none overwritten', async () => {
      const r = record();
      await store.putApproval(r, 't');
      const results = await Promise.all(
        ['bob', 'carol', 'dave', 'erin'].map((by) =>
          store.addDecision(r.approvalId, decision(by), 0, null),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal((await store.getApproval(r.approvalId))!.record.decisions.length, 1);
      const closes = await Promise.all(
        ['bob', 'carol'].map((by) =>
          store.addDecision(r.approvalId, decision(by), 1, closing('APPROVED', by)),
        ),
      );
      assert.equal(closes.filter(Boolean).length, 1);
      assert.equal((await store.getApproval(r.approvalId))!.record.decisions.length, 2);
    });

    test('a record written before N-of-M (no minApprovals, no decisions) reads as one approval, none taken, and takes its first decision at 0', async () => {
      const { minApprovals: _m, decisions: _d, ...old } = record();
      await store.putApproval(old as ApprovalRecord, 't');
      const stored = (await store.getApproval(old.approvalId))!.record;
      assert.equal(stored.minApprovals, 1);
      assert.deepEqual(stored.decisions, []);
      assert.equal(await store.addDecision(old.approvalId, decision('bob'), 1, null), false);
      assert.equal(
        await store.addDecision(old.approvalId, decision('bob'), 0, closing('APPROVED')),
        true,
      );
      assert.deepEqual((await store.getApproval(old.approvalId))!.record.decisions, [
        decision('bob'),
      ]);
    });

    test('attempts are kept up to max, then only counted; on an unknown request the count fails as a typed error', async () => {
      const r = record();
      await store.putApproval(r, 't');
      assert.deepEqual(
        await Promise.all(
          [0, 1, 2].map(async (n) => store.recordApprovalAttempt(r.approvalId, attempt(n), 2)),
        ).then((a) => a.sort()),
        ['counted', 'stored', 'stored'],
      );
      assert.equal(await store.recordApprovalAttempt(r.approvalId, attempt(3), 2), 'counted');
      const stored = (await store.getApproval(r.approvalId))!;
      assert.equal(stored.attempts.length, 2);
      assert.equal(stored.attemptsNotStored, 2);
      await assert.rejects(
        store.recordApprovalAttempt(newId(), attempt(0), 2),
        (e: Error) => e.name === 'DependencyError',
      );
      await assert.rejects(
        store.setDeliveries(newId(), []),
        (e: Error) => e.name === 'DependencyError',
      );
    });

    test('setDeliveries replaces the record’s deliveries', async () => {
      const r = record();
      await store.putApproval(r, 't');
      await store.setDeliveries(r.approvalId, [{ channel: 'log', ok: true, detail: 'logged' }]);
      await store.setDeliveries(r.approvalId, [{ channel: 'sns', ok: false, detail: 'no topic' }]);
      assert.deepEqual((await store.getApproval(r.approvalId))!.record.deliveries, [
        { channel: 'sns', ok: false, detail: 'no topic' },
      ]);
    });

    test('setDeliveries keeps the request’s notification record with the deliveries, and a later call without one keeps it', async () => {
      // Prepare
      const r = record();
      await store.putApproval(r, 't');
      const notification: NotificationRecord = {
        schema_version: 1,
        kind: 'approval_request',
        dedupe_key: `approval_request/${r.approvalId}`,
        title: 'approve?',
        delivered_via: 'github',
        degraded: false,
        attempts: [
          {
            channel: 'slack',
            status: 'failed',
            attempts: 3,
            status_code: 503,
            error: 'HTTP 503',
            at: '2026-05-01T00:00:01Z',
          },
          {
            channel: 'github',
            status: 'sent',
            attempts: 1,
            status_code: 201,
            at: '2026-05-01T00:00:02Z',
          },
        ],
      };
      // Act
      await store.setDeliveries(
        r.approvalId,
        [{ channel: 'log', ok: true, detail: 'logged' }],
        notification,
      );
      await store.setDeliveries(r.approvalId, [{ channel: 'sns', ok: true, detail: 'sent' }]);
      // Assess
      const stored = (await store.getApproval(r.approvalId))!.record;
      assert.deepEqual(stored.notification, notification);
      assert.deepEqual(stored.deliveries, [{ channel: 'sns', ok: true, detail: 'sent' }]);
      assert.deepEqual(ApprovalRecord.parse(stored), stored);
    });

    test('what a caller passes in or gets back is a copy: mutating it changes nothing stored', async () => {
      const r = record();
      await store.putApproval(r, 't');
      r.status = 'APPROVED';
      r.allowedApprovers.push('mallory');
      const got = (await store.getApproval(r.approvalId))!;
      got.record.decisions.push(decision('mallory'));
      got.record.status = 'REJECTED';
      got.attempts.push(attempt(9));
      const d = decision('bob');
      await store.addDecision(r.approvalId, d, 0, null);
      (d as { by: string }).by = 'mallory';
      const again = (await store.getApproval(r.approvalId))!;
      assert.equal(again.record.status, 'PENDING');
      assert.deepEqual(again.record.allowedApprovers, ['bob', 'carol']);
      assert.deepEqual(again.record.decisions, [decision('bob')]);
      assert.deepEqual(again.attempts, []);
      const pending = await store.listPendingApprovals();
      for (const p of pending) p.status = 'EXPIRED';
      assert.equal((await store.getApproval(r.approvalId))!.record.status, 'PENDING');
    });
  });
}

let tables: Awaited<ReturnType<typeof dynamoDbTables>>;
approvalStoreSuite('DynamoDbApprovalStore on DynamoDB Local', async () => {
  tables = await dynamoDbTables();
  return {
    store: new DynamoDbApprovalStore(tables.client, await tables.newStateTable()),
    close: () => tables.close(),
  };
});
approvalStoreSuite('MemoryApprovalStore', async () => ({
  store: new MemoryApprovalStore(),
  close: async () => {},
}));

/**
 * Differential: generated call sequences give the same answers and leave the same records on both.
 */
describe('ApprovalStore differential: memory and DynamoDB answer every generated call sequence alike', () => {
  let dynamo: Awaited<ReturnType<typeof dynamoDbTables>>;
  beforeAll(async () => (dynamo = await dynamoDbTables()));
  afterAll(async () => dynamo.close());

  const IDS = ['a'.repeat(32), 'b'.repeat(32), 'c'.repeat(32)];
  const STATUSES = ['PENDING', 'APPROVED', 'REJECTED', 'EXPIRED'] as const;
  const i = fc.integer({ min: 0, max: IDS.length - 1 });
  const status = fc.constantFrom(...STATUSES);
  type Op = (s: ApprovalStore, n: number) => Promise<unknown>;
  const op: fc.Arbitrary<[string, Op]> = fc.oneof(
    fc.tuple(i, fc.boolean()).map(([i, old]): [string, Op] => [
      `put ${i} ${old}`,
      (s, n) => {
        const r = record(IDS[i], { expiresAt: `2026-05-01T0${n % 10}:00:00Z` });
        const { minApprovals: _m, decisions: _d, ...legacy } = r;
        return s.putApproval(old ? (legacy as ApprovalRecord) : r, `token${n}`);
      },
    ]),
    fc
      .tuple(i, status, fc.option(status, { nil: undefined }))
      .map(([i, to, from]): [string, Op] => [
        `decide ${i} ${from}->${to}`,
        (s) => s.decideApproval(IDS[i]!, closing(to), from),
      ]),
    fc
      .tuple(i, fc.integer({ min: 0, max: 3 }), fc.option(status, { nil: null }))
      .map(([i, expected, close]): [string, Op] => [
        `add ${i} @${expected} ${close}`,
        (s, n) =>
          s.addDecision(IDS[i]!, decision(`p${n}`), expected, close ? closing(close) : null),
      ]),
    fc
      .tuple(i, fc.integer({ min: 0, max: 3 }))
      .map(([i, max]): [string, Op] => [
        `attempt ${i} max ${max}`,
        (s, n) => s.recordApprovalAttempt(IDS[i]!, attempt(n), max),
      ]),
    i.map((i): [string, Op] => [
      `deliveries ${i}`,
      (s, n) => s.setDeliveries(IDS[i]!, [{ channel: 'log', ok: n % 2 === 0, detail: `d${n}` }]),
    ]),
  );
  const answer = (p: Promise<unknown>) =>
    p.then(
      (value) => ({ value: value ?? null }),
      (e: Error) => ({ error: e.name }),
    );
  const snapshot = async (s: ApprovalStore) => ({
    approvals: await Promise.all(IDS.map((id) => s.getApproval(id).then((v) => v ?? null))),
    pending: await s.listPendingApprovals(),
  });

  test('generated sequences of up to 20 calls', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 20 }), async (ops) => {
        const memory = new MemoryApprovalStore();
        const real = new DynamoDbApprovalStore(dynamo.client, await dynamo.newStateTable());
        for (const [n, [name, call]] of ops.entries())
          assert.deepEqual(
            await answer(call(memory, n)),
            await answer(call(real, n)),
            `step ${n}: ${name}`,
          );
        assert.deepEqual(await snapshot(memory), await snapshot(real));
      }),
      { numRuns: 30 },
    );
  });
});
