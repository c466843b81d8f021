import assert from 'node:assert/strict';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { DynamoDbNotificationLedger } from '../../functions/adapters/dynamodb-notification-ledger';
import { stateTable } from '../../functions/adapters/table-layout';
import {
  memoryNotificationLedger,
  type NotificationLedger,
} from '../../functions/core/notification-chain';
import { dynamoDbTables } from '../support/dynamodb';

const TTL_SECONDS = 3600;
const T0 = '2026-05-01T00:00:00.000Z';
const later = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();
let n = 0;
const newKey = () => `daily_report/2026-05-0${(n++ % 9) + 1}/${n}`;

/**
 * The NotificationLedger contract (docs/notifications.md#idempotency), run over the DynamoDB
 * ledger (DynamoDB Local, the state table's layout) and the in-memory one.
 */
function ledgerSuite(
  name: string,
  open: () => Promise<{ ledger: NotificationLedger; close: () => Promise<void> }>,
) {
  describe(`NotificationLedger contract: ${name}`, () => {
    let ledger: NotificationLedger;
    let close: () => Promise<void>;
    beforeAll(async () => ({ ledger, close } = await open()));
    afterAll(async () => close());

    test('the first claim owns the key; later claims see pending, then sent once marked', async () => {
      // Prepare
      const key = newKey();
      // Act
      const first = await ledger.claimNotification('slack', key, T0);
      const second = await ledger.claimNotification('slack', key, later(1));
      await ledger.markNotificationSent('slack', key, later(2));
      const third = await ledger.claimNotification('slack', key, later(3));
      // Assess
      assert.deepEqual([first, second, third], ['claimed', 'pending', 'sent']);
    });

    test('a released claim may be claimed again; a sent item is never released', async () => {
      // Prepare
      const pending = newKey();
      const sent = newKey();
      await ledger.claimNotification('slack', pending, T0);
      await ledger.claimNotification('slack', sent, T0);
      await ledger.markNotificationSent('slack', sent, T0);
      // Act
      await ledger.releaseNotification('slack', pending);
      await ledger.releaseNotification('slack', sent);
      await ledger.releaseNotification('slack', newKey());
      // Assess
      assert.equal(await ledger.claimNotification('slack', pending, later(1)), 'claimed');
      assert.equal(await ledger.claimNotification('slack', sent, later(1)), 'sent');
    });

    test('channels are separate: the same key claimed on slack is free on github', async () => {
      // Prepare
      const key = newKey();
      await ledger.claimNotification('slack', key, T0);
      // Act
      const github = await ledger.claimNotification('github', key, T0);
      // Assess
      assert.equal(github, 'claimed');
    });

    test('of concurrent claims of one key exactly one owns it', async () => {
      // Prepare
      const key = newKey();
      // Act
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => ledger.claimNotification('slack', key, T0)),
      );
      // Assess
      assert.equal(answers.filter((a) => a === 'claimed').length, 1);
      assert.equal(answers.filter((a) => a === 'pending').length, 5);
    });

    test('an item past its TTL counts as absent: a claim owns the key again', async () => {
      // Prepare
      const pending = newKey();
      const sent = newKey();
      await ledger.claimNotification('slack', pending, T0);
      await ledger.claimNotification('slack', sent, T0);
      await ledger.markNotificationSent('slack', sent, later(10));
      // Act
      const beforeExpiry = await ledger.claimNotification('slack', sent, later(TTL_SECONDS));
      const afterPending = await ledger.claimNotification('slack', pending, later(TTL_SECONDS));
      const afterSent = await ledger.claimNotification('slack', sent, later(TTL_SECONDS + 10));
      // Assess
      assert.equal(beforeExpiry, 'sent');
      assert.equal(afterPending, 'claimed');
      assert.equal(afterSent, 'claimed');
    });
  });
}

let dynamo: Awaited<ReturnType<typeof dynamoDbTables>>;
let table = '';
beforeAll(async () => {
  dynamo = await dynamoDbTables();
  table = await dynamo.newStateTable();
}, 60_000);
afterAll(async () => dynamo?.close());

ledgerSuite('DynamoDB', async () => ({
  ledger: new DynamoDbNotificationLedger(dynamo.client, table, TTL_SECONDS),
  close: async () => {},
}));
ledgerSuite('memory', async () => ({
  ledger: memoryNotificationLedger(TTL_SECONDS),
  close: async () => {},
}));

describe('DynamoDbNotificationLedger in the state table', () => {
  test('an item carries the layout key and a numeric ttl, epoch seconds after its last write', async () => {
    // Prepare
    const ledger = new DynamoDbNotificationLedger(dynamo.client, table, TTL_SECONDS);
    const key = newKey();
    // Act
    await ledger.claimNotification('github', key, T0);
    await ledger.markNotificationSent('github', key, later(60));
    const out = await DynamoDBDocumentClient.from(dynamo.client).send(
      new GetCommand({ TableName: table, Key: stateTable.keys.notification('github', key) }),
    );
    // Assess
    assert.equal(out.Item?.state, 'sent');
    assert.equal(out.Item?.[stateTable.ttlAttribute], Date.parse(T0) / 1000 + 60 + TTL_SECONDS);
  });
});
