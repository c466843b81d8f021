import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { callDynamoDb, transactWrite } from './dynamodb-kit';
import type { ApprovalRecord } from '../../contracts';
import type { ApprovalAttempt, ApprovalStore } from '../core/approvals';
import { stateTable } from './table-layout';

const { keys } = stateTable;

/** Approvals in the state table; the task token is an attribute of the item that no reader returns in a record. */
export class DynamoDbApprovalStore implements ApprovalStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  private async transact(operation: string, items: NonNullable<TransactWriteCommandInput['TransactItems']>): Promise<boolean> {
    return (await transactWrite(this.doc, `${operation} on ${this.tableName}`, items)) === null;
  }

  private call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return callDynamoDb(`${operation} on ${this.tableName}`, fn);
  }

  private async update(operation: string, approvalId: string, expression: string, values: Record<string, unknown>, names?: Record<string, string>): Promise<void> {
    await this.call(operation, () =>
      this.doc.send(
        new UpdateCommand({ TableName: this.tableName, Key: keys.approval(approvalId), UpdateExpression: expression, ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeValues: values, ...(names ? { ExpressionAttributeNames: names } : {}) }),
      ),
    );
  }

  putApproval(record: ApprovalRecord, taskToken: string): Promise<boolean> {
    return this.transact('putApproval', [
      { Put: { TableName: this.tableName, Item: { ...keys.approval(record.approvalId), record, taskToken, attempts: [] }, ConditionExpression: 'attribute_not_exists(pk)' } },
      { Put: { TableName: this.tableName, Item: { ...keys.pendingApproval(record.approvalId), approvalId: record.approvalId, expiresAt: record.expiresAt } } },
    ]);
  }

  async getApproval(approvalId: string) {
    const out = await this.call('getApproval', () => this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.approval(approvalId), ConsistentRead: true })));
    if (!out.Item) return undefined;
    return { record: out.Item.record as ApprovalRecord, taskToken: out.Item.taskToken as string, attempts: (out.Item.attempts ?? []) as ApprovalAttempt[] };
  }

  decideApproval(approvalId: string, decision: Pick<ApprovalRecord, 'status' | 'decidedBy' | 'decidedAt' | 'reason'>, from: ApprovalRecord['status'] = 'PENDING'): Promise<boolean> {
    return this.transact('decideApproval', [
      {
        Update: {
          TableName: this.tableName,
          Key: keys.approval(approvalId),
          UpdateExpression: 'SET #r.#status = :status, #r.decidedBy = :by, #r.decidedAt = :at, #r.#reason = :reason',
          ConditionExpression: '#r.#status = :from',
          ExpressionAttributeNames: { '#r': 'record', '#status': 'status', '#reason': 'reason' },
          ExpressionAttributeValues: { ':status': decision.status, ':by': decision.decidedBy, ':at': decision.decidedAt, ':reason': decision.reason, ':from': from },
        },
      },
      { Delete: { TableName: this.tableName, Key: keys.pendingApproval(approvalId) } },
    ]);
  }

  recordApprovalAttempt(approvalId: string, attempt: ApprovalAttempt): Promise<void> {
    return this.update('recordApprovalAttempt', approvalId, 'SET attempts = list_append(if_not_exists(attempts, :none), :attempt)', { ':none': [], ':attempt': [attempt] });
  }

  setDeliveries(approvalId: string, deliveries: ApprovalRecord['deliveries']): Promise<void> {
    return this.update('setDeliveries', approvalId, 'SET #r.deliveries = :d', { ':d': deliveries }, { '#r': 'record' });
  }

  async listPendingApprovals(): Promise<ApprovalRecord[]> {
    const out = await this.call('listPendingApprovals', () =>
      this.doc.send(new QueryCommand({ TableName: this.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.pendingApprovalPartition }, ConsistentRead: true })),
    );
    const records = await Promise.all((out.Items ?? []).map(async (item) => (await this.getApproval(item.approvalId as string))?.record));
    return records.filter((r): r is ApprovalRecord => !!r);
  }
}
