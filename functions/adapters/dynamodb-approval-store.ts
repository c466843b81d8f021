import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { callDynamoDb, isConditionFailure, transactWrite } from './dynamodb-kit';
import type { ApprovalDecision, ApprovalRecord, NotificationRecord } from '../../contracts';
import type { ApprovalAttempt, ApprovalStore, StoredApproval } from '../core/approvals';
import { stateTable } from './table-layout';

const { keys } = stateTable;

/**
 * Approvals in the state table; the task token is an attribute of the item that no reader returns
 * in a record.
 */
export class DynamoDbApprovalStore implements ApprovalStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
  }

  private async transact(
    operation: string,
    items: NonNullable<TransactWriteCommandInput['TransactItems']>,
  ): Promise<boolean> {
    return (await transactWrite(this.doc, `${operation} on ${this.tableName}`, items)) === null;
  }

  private call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return callDynamoDb(`${operation} on ${this.tableName}`, fn);
  }

  private async update(
    operation: string,
    approvalId: string,
    expression: string,
    values: Record<string, unknown>,
    names?: Record<string, string>,
  ): Promise<void> {
    await this.call(operation, () =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.approval(approvalId),
          UpdateExpression: expression,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: values,
          ...(names ? { ExpressionAttributeNames: names } : {}),
        }),
      ),
    );
  }

  putApproval(record: ApprovalRecord, taskToken: string): Promise<boolean> {
    return this.transact('putApproval', [
      {
        Put: {
          TableName: this.tableName,
          Item: { ...keys.approval(record.approvalId), record, taskToken, attempts: [] },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: this.tableName,
          Item: {
            ...keys.pendingApproval(record.approvalId),
            approvalId: record.approvalId,
            expiresAt: record.expiresAt,
          },
        },
      },
    ]);
  }

  async getApproval(approvalId: string): Promise<StoredApproval | undefined> {
    const out = await this.call('getApproval', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: keys.approval(approvalId),
          ConsistentRead: true,
        }),
      ),
    );
    if (!out.Item) return undefined;
    // Records written before N-of-M have neither minApprovals nor decisions: one approval, none
    // taken.
    const record = {
      minApprovals: 1,
      decisions: [],
      ...(out.Item.record as Partial<ApprovalRecord>),
    } as ApprovalRecord;
    return {
      record,
      taskToken: out.Item.taskToken as string,
      attempts: (out.Item.attempts ?? []) as ApprovalAttempt[],
      attemptsNotStored: Number(out.Item.attemptsNotStored ?? 0),
    };
  }

  decideApproval(
    approvalId: string,
    decision: Pick<ApprovalRecord, 'status' | 'decidedBy' | 'decidedAt' | 'reason'>,
    from: ApprovalRecord['status'] = 'PENDING',
  ): Promise<boolean> {
    return this.transact('decideApproval', [
      {
        Update: {
          TableName: this.tableName,
          Key: keys.approval(approvalId),
          UpdateExpression:
            'SET #r.#status = :status, #r.decidedBy = :by, #r.decidedAt = :at, #r.#reason = :reason',
          ConditionExpression: '#r.#status = :from',
          ExpressionAttributeNames: { '#r': 'record', '#status': 'status', '#reason': 'reason' },
          ExpressionAttributeValues: {
            ':status': decision.status,
            ':by': decision.decidedBy,
            ':at': decision.decidedAt,
            ':reason': decision.reason,
            ':from': from,
          },
        },
      },
      { Delete: { TableName: this.tableName, Key: keys.pendingApproval(approvalId) } },
    ]);
  }

  async addDecision(
    approvalId: string,
    decision: ApprovalDecision,
    expected: number,
    close: Pick<ApprovalRecord, 'status' | 'decidedBy' | 'decidedAt' | 'reason'> | null,
  ): Promise<boolean> {
    const names = { '#r': 'record', '#status': 'status', '#decisions': 'decisions' };
    // Records written before N-of-M have no decisions list: expected is then 0.
    const condition =
      '#r.#status = :pending AND ((attribute_not_exists(#r.#decisions) AND :expected = :zero) OR size(#r.#decisions) = :expected)';
    const values = {
      ':pending': 'PENDING',
      ':expected': expected,
      ':zero': 0,
      ':none': [],
      ':decision': [decision],
    };
    const append =
      'SET #r.#decisions = list_append(if_not_exists(#r.#decisions, :none), :decision)';
    const update = {
      TableName: this.tableName,
      Key: keys.approval(approvalId),
      ConditionExpression: condition,
    };
    if (!close) {
      try {
        await this.doc.send(
          new UpdateCommand({
            ...update,
            UpdateExpression: append,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        );
        return true;
      } catch (error) {
        if (isConditionFailure(error)) return false;
        return this.call('addDecision', () => Promise.reject(error));
      }
    }
    // The decision that settles the request closes it and leaves the pending list in one
    // transaction.
    return this.transact('addDecision', [
      {
        Update: {
          ...update,
          UpdateExpression: `${append}, #r.#status = :status, #r.decidedBy = :by, #r.decidedAt = :at, #r.#reason = :reason`,
          ExpressionAttributeNames: { ...names, '#reason': 'reason' },
          ExpressionAttributeValues: {
            ...values,
            ':status': close.status,
            ':by': close.decidedBy,
            ':at': close.decidedAt,
            ':reason': close.reason,
          },
        },
      },
      { Delete: { TableName: this.tableName, Key: keys.pendingApproval(approvalId) } },
    ]);
  }

  async recordApprovalAttempt(
    approvalId: string,
    attempt: ApprovalAttempt,
    max: number,
  ): Promise<'stored' | 'counted'> {
    const key = keys.approval(approvalId);
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET attempts = list_append(if_not_exists(attempts, :none), :attempt)',
          ConditionExpression:
            'attribute_exists(pk) AND (attribute_not_exists(attempts) OR size(attempts) < :max)',
          ExpressionAttributeValues: { ':none': [], ':attempt': [attempt], ':max': max },
        }),
      );
      return 'stored';
    } catch (error) {
      if (!isConditionFailure(error))
        return this.call('recordApprovalAttempt', () => Promise.reject(error));
    }
    // Full (or gone: then the count fails its condition too and says so as a typed error).
    await this.update('recordApprovalAttempt', approvalId, 'ADD attemptsNotStored :one', {
      ':one': 1,
    });
    return 'counted';
  }

  setDeliveries(
    approvalId: string,
    deliveries: ApprovalRecord['deliveries'],
    notification?: NotificationRecord,
  ): Promise<void> {
    return this.update(
      'setDeliveries',
      approvalId,
      notification ? 'SET #r.deliveries = :d, #r.notification = :n' : 'SET #r.deliveries = :d',
      notification ? { ':d': deliveries, ':n': notification } : { ':d': deliveries },
      { '#r': 'record' },
    );
  }

  async listPendingApprovals(): Promise<ApprovalRecord[]> {
    const out = await this.call('listPendingApprovals', () =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.pendingApprovalPartition },
          ConsistentRead: true,
        }),
      ),
    );
    const records = await Promise.all(
      (out.Items ?? []).map(
        async (item) => (await this.getApproval(item.approvalId as string))?.record,
      ),
    );
    return records.filter((r): r is ApprovalRecord => !!r);
  }
}
