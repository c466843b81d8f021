import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
} from '@aws-sdk/lib-dynamodb';
import type { NotificationChannel } from '../../contracts';
import { DEFAULT_LEDGER_TTL_SECONDS, type NotificationLedger } from '../core/notification-chain';
import { callDynamoDb, isConditionFailure } from './dynamodb-kit';
import { stateTable } from './table-layout';

const { keys, ttlAttribute } = stateTable;

/**
 * The notification ledger in the state table (docs/notifications.md#idempotency): one item per
 * channel and dedupeKey, claimed with a conditional put. Every item carries `ttl` (epoch seconds,
 * `ttlSeconds` after its last write); DynamoDB deletes expired items lazily, so an item past its
 * `ttl` counts as absent here.
 */
export class DynamoDbNotificationLedger implements NotificationLedger {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    private readonly ttlSeconds = DEFAULT_LEDGER_TTL_SECONDS,
  ) {
    this.doc = DynamoDBDocumentClient.from(client);
  }

  private call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return callDynamoDb(`${operation} on ${this.tableName}`, fn);
  }

  private item(channel: NotificationChannel, dedupeKey: string, state: string, at: string) {
    return {
      ...keys.notification(channel, dedupeKey),
      channel,
      dedupeKey,
      state,
      at,
      [ttlAttribute]: Math.floor(Date.parse(at) / 1000) + this.ttlSeconds,
    };
  }

  async claimNotification(
    channel: NotificationChannel,
    dedupeKey: string,
    at: string,
  ): Promise<'claimed' | 'pending' | 'sent'> {
    const nowEpoch = Math.floor(Date.parse(at) / 1000);
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.item(channel, dedupeKey, 'pending', at),
          ConditionExpression: 'attribute_not_exists(pk) OR #ttl <= :now',
          ExpressionAttributeNames: { '#ttl': ttlAttribute },
          ExpressionAttributeValues: { ':now': nowEpoch },
        }),
      );
      return 'claimed';
    } catch (error) {
      if (!isConditionFailure(error))
        return this.call('claimNotification', () => Promise.reject(error));
    }
    const out = await this.call('claimNotification (read)', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: keys.notification(channel, dedupeKey),
          ConsistentRead: true,
        }),
      ),
    );
    // Gone between the put and the read (released): another claim owns the next try.
    return out.Item?.state === 'sent' ? 'sent' : 'pending';
  }

  async markNotificationSent(
    channel: NotificationChannel,
    dedupeKey: string,
    at: string,
  ): Promise<void> {
    await this.call('markNotificationSent', () =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.item(channel, dedupeKey, 'sent', at),
        }),
      ),
    );
  }

  async releaseNotification(channel: NotificationChannel, dedupeKey: string): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.notification(channel, dedupeKey),
          ConditionExpression: '#state = :pending',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':pending': 'pending' },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return;
      await this.call('releaseNotification', () => Promise.reject(error));
    }
  }
}
