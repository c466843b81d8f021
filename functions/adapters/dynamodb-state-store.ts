import { ConditionalCheckFailedException, DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AuditEvent, RunContext, RunSummary } from '../../contracts';
import type { ChainLink, JobState, RunItem, SealedOutcome, StateStore } from '../core/ports';
import { wrapAwsError } from './aws-errors';
import { stateTable } from './table-layout';

const { keys } = stateTable;

const isConditionFailure = (error: unknown): boolean =>
  error instanceof ConditionalCheckFailedException || (error as { name?: string })?.name === 'ConditionalCheckFailedException';

export class DynamoDbStateStore implements StateStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw wrapAwsError(`DynamoDB ${operation} on ${this.tableName}`, error);
    }
  }

  async claimRun(run: RunContext, startEvent: AuditEvent): Promise<boolean> {
    const item: RunItem = { ...run, phase: 'claimed', audit: [startEvent], attempts: 0 };
    try {
      await this.doc.send(
        new PutCommand({ TableName: this.tableName, Item: { ...keys.run(run.jobRunId), ...item }, ConditionExpression: 'attribute_not_exists(pk)' }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw wrapAwsError(`DynamoDB claimRun on ${this.tableName}`, error);
    }
  }

  async getRun(jobRunId: string): Promise<RunItem | undefined> {
    const out = await this.call('getRun', () => this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.run(jobRunId), ConsistentRead: true })));
    if (!out.Item) return undefined;
    const { pk: _pk, sk: _sk, ...item } = out.Item;
    return item as RunItem;
  }

  async recordDuplicate(event: AuditEvent & { jobRunId: string }, executionId: string): Promise<void> {
    await this.call('recordDuplicate', () =>
      this.doc.send(new PutCommand({ TableName: this.tableName, Item: { ...keys.duplicate(event.jobRunId, executionId), event } })),
    );
  }

  async listDuplicates(jobRunId: string): Promise<AuditEvent[]> {
    const out = await this.call('listDuplicates', () =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :dup)',
          ExpressionAttributeValues: { ':pk': keys.run(jobRunId).pk, ':dup': 'DUP#' },
          ConsistentRead: true,
        }),
      ),
    );
    return (out.Items ?? []).map((item) => item.event as AuditEvent);
  }

  async countExecuteAttempt(jobRunId: string): Promise<number> {
    const out = await this.call('countExecuteAttempt', () =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.run(jobRunId),
          UpdateExpression: 'ADD attempts :one',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':one': 1 },
          ReturnValues: 'UPDATED_NEW',
        }),
      ),
    );
    return Number(out.Attributes?.attempts ?? 1);
  }

  async sealOutcome(jobRunId: string, outcome: SealedOutcome): Promise<SealedOutcome> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.run(jobRunId),
          UpdateExpression: 'SET sealed = :outcome',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(sealed)',
          ExpressionAttributeValues: { ':outcome': outcome },
        }),
      );
      return outcome;
    } catch (error) {
      if (!isConditionFailure(error)) throw wrapAwsError(`DynamoDB sealOutcome on ${this.tableName}`, error);
      const existing = (await this.getRun(jobRunId))?.sealed;
      if (!existing) throw wrapAwsError(`DynamoDB sealOutcome on ${this.tableName} (run ${jobRunId} not claimed)`, error);
      return existing;
    }
  }

  async linkChain(jobId: string, jobRunId: string, expectedSequence: number, link: ChainLink): Promise<'linked' | 'conflict' | 'already'> {
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: keys.jobState(jobId),
                UpdateExpression: 'SET chainHead = :link, jobId = :jobId',
                ConditionExpression: expectedSequence === 0 ? 'attribute_not_exists(chainHead)' : 'chainHead.#seq = :expected',
                ExpressionAttributeValues: { ':link': link, ':jobId': jobId, ...(expectedSequence === 0 ? {} : { ':expected': expectedSequence }) },
                ...(expectedSequence === 0 ? {} : { ExpressionAttributeNames: { '#seq': 'sequence' } }),
              },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: keys.run(jobRunId),
                UpdateExpression: 'SET chain = :link',
                ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(chain)',
                ExpressionAttributeValues: { ':link': link },
              },
            },
          ],
        }),
      );
      return 'linked';
    } catch (error) {
      if (error instanceof TransactionCanceledException || (error as { name?: string })?.name === 'TransactionCanceledException') {
        const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
        if (reasons[1]?.Code === 'ConditionalCheckFailed') return 'already';
        if (reasons[0]?.Code === 'ConditionalCheckFailed') return 'conflict';
      }
      throw wrapAwsError(`DynamoDB linkChain on ${this.tableName}`, error);
    }
  }

  async completeRun(summary: RunSummary, endedAt: string): Promise<boolean> {
    const failed = summary.status === 'error';
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: keys.run(summary.jobRunId),
                UpdateExpression: 'SET summary = :summary, phase = :finalized',
                ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(summary)',
                ExpressionAttributeValues: { ':summary': summary, ':finalized': 'finalized' },
              },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: keys.jobState(summary.jobId),
                UpdateExpression: failed
                  ? 'SET jobId = :jobId, lastRunAt = :at, lastStatus = :status, lastQuality = :quality, consecutiveFailures = if_not_exists(consecutiveFailures, :zero) + :one ADD runCount :one'
                  : 'SET jobId = :jobId, lastRunAt = :at, lastStatus = :status, lastQuality = :quality, consecutiveFailures = :zero ADD runCount :one',
                ExpressionAttributeValues: { ':jobId': summary.jobId, ':at': endedAt, ':status': summary.status, ':quality': summary.quality, ':zero': 0, ':one': 1 },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof TransactionCanceledException || (error as { name?: string })?.name === 'TransactionCanceledException') {
        const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
        if (reasons[0]?.Code === 'ConditionalCheckFailed') return false;
      }
      throw wrapAwsError(`DynamoDB completeRun on ${this.tableName}`, error);
    }
  }

  async getJobState(jobId: string): Promise<JobState | undefined> {
    const out = await this.call('getJobState', () => this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.jobState(jobId), ConsistentRead: true })));
    if (!out.Item) return undefined;
    const { pk: _pk, sk: _sk, ...item } = out.Item;
    return { consecutiveFailures: 0, runCount: 0, ...item, jobId } as JobState;
  }

  async getSchedulerCursor(jobId: string): Promise<string | undefined> {
    const out = await this.call('getSchedulerCursor', () =>
      this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.schedulerCursor(jobId), ConsistentRead: true })),
    );
    return out.Item?.lastTick as string | undefined;
  }

  async setSchedulerCursor(jobId: string, tick: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.schedulerCursor(jobId),
          UpdateExpression: 'SET lastTick = :tick',
          // The cursor only moves forward, whoever writes it.
          ConditionExpression: 'attribute_not_exists(lastTick) OR lastTick < :tick',
          ExpressionAttributeValues: { ':tick': tick },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw wrapAwsError(`DynamoDB setSchedulerCursor on ${this.tableName}`, error);
    }
  }
}
