import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { callDynamoDb, isConditionFailure, transactWrite } from './dynamodb-kit';
import type {
  AuditEvent,
  DatasetIntegrity,
  KillSwitch,
  RunContext,
  RunSummary,
  SafetyState,
} from '../../contracts';
import type {
  ActiveRun,
  ChainLink,
  ClaimOutcome,
  ControlChainHead,
  Controls,
  ExportSequence,
  FailureCount,
  JobState,
  OpenRun,
  Quarantine,
  RunEffect,
  RunItem,
  RunQuery,
  SchedulePause,
  SealedOutcome,
  StateStore,
  WaitingTick,
} from '../core/ports';
import { wrapAwsError } from './aws-errors';
import { ConfigurationError, ContentionError, ThrottlingError } from '../core/errors';
import { stateTable } from './table-layout';

const { keys } = stateTable;
/** Failures of one job counted at the same moment retry this often before reporting contention. */
const MAX_COUNT_ATTEMPTS = 10;

const strip = <T>(item: Record<string, unknown>): T => {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as T;
};

export class DynamoDbStateStore implements StateStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
  }

  private call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return callDynamoDb(`${operation} on ${this.tableName}`, fn);
  }

  /** An update of a claimed run's item (which must exist). */
  private async updateRun(
    operation: string,
    jobRunId: string,
    updateExpression: string,
    values: Record<string, unknown>,
    returnValues?: 'ALL_NEW',
  ) {
    const update = new UpdateCommand({
      TableName: this.tableName,
      Key: keys.run(jobRunId),
      UpdateExpression: updateExpression,
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: values,
      ...(returnValues ? { ReturnValues: returnValues } : {}),
    });
    try {
      return await this.doc.send(update);
    } catch (error) {
      // No such run: an event naming a run nobody claimed, which no retry can change.
      if (isConditionFailure(error))
        throw new ConfigurationError(`run ${jobRunId} was never claimed (${operation})`, {
          cause: error,
        });
      throw wrapAwsError(`DynamoDB ${operation} on ${this.tableName}`, error);
    }
  }

  private transact(
    operation: string,
    items: NonNullable<TransactWriteCommandInput['TransactItems']>,
  ): Promise<boolean[] | null> {
    return transactWrite(this.doc, `${operation} on ${this.tableName}`, items);
  }

  async claimRun(
    run: RunContext,
    startEvent: AuditEvent,
    leaseExpiresAt: string,
    exclusive = false,
  ): Promise<ClaimOutcome> {
    const item: RunItem = {
      ...run,
      phase: 'claimed',
      audit: [startEvent],
      attempts: 0,
      leaseExpiresAt,
      ...(exclusive ? { exclusive: true } : {}),
    };
    const open: OpenRun = {
      jobRunId: run.jobRunId,
      jobId: run.jobId,
      scheduledTime: run.scheduledTime,
      trigger: run.trigger,
      executionId: run.executionId,
      leaseExpiresAt,
    };
    const active: ActiveRun = {
      jobRunId: run.jobRunId,
      scheduledTime: run.scheduledTime,
      executionId: run.executionId,
    };
    // A slot freed between the failed claim and the read that names its holder is claimed again.
    for (let attempt = 0; attempt < MAX_COUNT_ATTEMPTS; attempt++) {
      const failed = await this.transact('claimRun', [
        {
          Put: {
            TableName: this.tableName,
            Item: { ...keys.run(run.jobRunId), ...item },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        { Put: { TableName: this.tableName, Item: { ...keys.openRun(run.jobRunId), ...open } } },
        ...(exclusive
          ? [
              {
                Update: {
                  TableName: this.tableName,
                  Key: keys.jobSlot(run.jobId),
                  UpdateExpression: 'SET active = :active',
                  ConditionExpression: 'attribute_not_exists(active)',
                  ExpressionAttributeValues: { ':active': active },
                },
              },
            ]
          : []),
      ]);
      if (failed === null) return true;
      if (failed[0]) return false;
      const holder = (await this.getSlot(run.jobId)).active;
      if (holder) return { busy: holder };
    }
    throw new ContentionError(run.jobRunId, "the job's overlap slot");
  }

  async waitForSlot(
    jobId: string,
    tick: WaitingTick,
    now: string,
  ): Promise<'waiting' | WaitingTick> {
    for (let attempt = 0; attempt < MAX_COUNT_ATTEMPTS; attempt++) {
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keys.jobSlot(jobId),
            UpdateExpression: 'SET waiting = :tick',
            ConditionExpression:
              'attribute_not_exists(waiting) OR waiting.executionId = :self OR waiting.leaseExpiresAt < :now',
            ExpressionAttributeValues: { ':tick': tick, ':self': tick.executionId, ':now': now },
          }),
        );
        return 'waiting';
      } catch (error) {
        if (!isConditionFailure(error))
          throw wrapAwsError(`DynamoDB waitForSlot on ${this.tableName}`, error);
      }
      const waiting = (await this.getSlot(jobId)).waiting;
      if (waiting) return waiting;
    }
    throw new ContentionError(tick.executionId, "the job's waiting tick");
  }

  async leaveWaiting(jobId: string, executionId: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.jobSlot(jobId),
          UpdateExpression: 'REMOVE waiting',
          ConditionExpression: 'waiting.executionId = :self',
          ExpressionAttributeValues: { ':self': executionId },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error))
        throw wrapAwsError(`DynamoDB leaveWaiting on ${this.tableName}`, error);
    }
  }

  async getSlot(jobId: string): Promise<{ active?: ActiveRun; waiting?: WaitingTick }> {
    const out = await this.call('getSlot', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: keys.jobSlot(jobId),
          ConsistentRead: true,
        }),
      ),
    );
    const item = out.Item ?? {};
    return {
      ...(item.active ? { active: item.active as ActiveRun } : {}),
      ...(item.waiting ? { waiting: item.waiting as WaitingTick } : {}),
    };
  }

  async takeOverRun(
    jobRunId: string,
    from: { executionId: string; leaseExpiresAt: string },
    to: { executionId: string; leaseExpiresAt: string; event: AuditEvent },
  ): Promise<boolean> {
    const lease = { ':new': to.executionId, ':lease': to.leaseExpiresAt };
    const failed = await this.transact('takeOverRun', [
      {
        Update: {
          TableName: this.tableName,
          Key: keys.run(jobRunId),
          UpdateExpression:
            'SET executionId = :new, leaseExpiresAt = :lease, audit = list_append(audit, :events)',
          ConditionExpression:
            'executionId = :old AND leaseExpiresAt = :oldLease AND phase = :claimed',
          ExpressionAttributeValues: {
            ...lease,
            ':old': from.executionId,
            ':oldLease': from.leaseExpiresAt,
            ':events': [to.event],
            ':claimed': 'claimed',
          },
        },
      },
      {
        Update: {
          TableName: this.tableName,
          Key: keys.openRun(jobRunId),
          UpdateExpression: 'SET executionId = :new, leaseExpiresAt = :lease',
          ExpressionAttributeValues: lease,
        },
      },
    ]);
    return failed === null;
  }

  async listOpenRuns(): Promise<OpenRun[]> {
    const items = await this.queryPartition('listOpenRuns', keys.openPartition);
    return items.map((item) => strip<OpenRun>(item));
  }

  private async queryPartition(operation: string, pk: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.call(operation, () =>
        this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': pk },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        ),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  async appendAudit(jobRunId: string, events: AuditEvent[]): Promise<void> {
    await this.updateRun('appendAudit', jobRunId, 'SET audit = list_append(audit, :events)', {
      ':events': events,
    });
  }

  async recordAttemptFailure(jobRunId: string, reason: string): Promise<void> {
    await this.updateRun(
      'recordAttemptFailure',
      jobRunId,
      'SET lastAttemptError = :reason ADD failedAttempts :one',
      { ':reason': reason.slice(0, 1000), ':one': 1 },
    );
  }

  async getRun(jobRunId: string): Promise<RunItem | undefined> {
    const out = await this.call('getRun', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: keys.run(jobRunId),
          ConsistentRead: true,
        }),
      ),
    );
    return out.Item ? strip<RunItem>(out.Item) : undefined;
  }

  async recordDuplicate(
    event: AuditEvent & { jobRunId: string },
    executionId: string,
  ): Promise<void> {
    await this.call('recordDuplicate', () =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.duplicate(event.jobRunId, executionId), event },
        }),
      ),
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

  async countExecuteAttempt(
    jobRunId: string,
  ): Promise<{ attempts: number; lastAttemptError?: string }> {
    const out = await this.updateRun(
      'countExecuteAttempt',
      jobRunId,
      'ADD attempts :one',
      { ':one': 1 },
      'ALL_NEW',
    );
    const lastAttemptError = out.Attributes?.lastAttemptError as string | undefined;
    return {
      attempts: Number(out.Attributes?.attempts ?? 1),
      ...(lastAttemptError ? { lastAttemptError } : {}),
    };
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
      if (!isConditionFailure(error))
        throw wrapAwsError(`DynamoDB sealOutcome on ${this.tableName}`, error);
      const existing = (await this.getRun(jobRunId))?.sealed;
      if (!existing)
        throw wrapAwsError(
          `DynamoDB sealOutcome on ${this.tableName} (run ${jobRunId} not claimed)`,
          error,
        );
      return existing;
    }
  }

  async linkChain(
    jobId: string,
    jobRunId: string,
    expectedSequence: number,
    link: ChainLink,
  ): Promise<'linked' | 'conflict' | 'already'> {
    const first = expectedSequence === 0;
    // The head is the link as the next run sees it; what the bundle is built from stays on the run.
    const { basis: _basis, ...head } = link;
    const failed = await this.transact('linkChain', [
      {
        Update: {
          TableName: this.tableName,
          Key: keys.jobState(jobId),
          UpdateExpression: 'SET chainHead = :head, jobId = :jobId',
          ConditionExpression: first
            ? 'attribute_not_exists(chainHead)'
            : 'chainHead.#seq = :expected',
          ExpressionAttributeValues: {
            ':head': head,
            ':jobId': jobId,
            ...(first ? {} : { ':expected': expectedSequence }),
          },
          ...(first ? {} : { ExpressionAttributeNames: { '#seq': 'sequence' } }),
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
    ]);
    if (failed === null) return 'linked';
    return failed[1] ? 'already' : 'conflict';
  }

  async countFailure(
    jobId: string,
    jobRunId: string,
    threshold: number,
    at: string,
  ): Promise<FailureCount | 'moved'> {
    for (let attempt = 0; attempt < MAX_COUNT_ATTEMPTS; attempt++) {
      const counted = (await this.getRun(jobRunId))?.failure;
      if (counted) return counted;
      const state = await this.getJobState(jobId);
      const before = state?.consecutiveFailures ?? 0;
      const failures = before + 1;
      const quarantine =
        !state?.quarantine && failures >= threshold
          ? {
              since: at,
              jobRunId,
              reason: `${failures} consecutive failures (threshold ${threshold})`,
            }
          : null;
      const count: FailureCount = { consecutiveFailures: failures, quarantine };
      // Optimistic: the job state must be as read (count and quarantine), so two failures never
      // share a count.
      const unchanged = [
        before === 0
          ? '(attribute_not_exists(consecutiveFailures) OR consecutiveFailures = :before)'
          : 'consecutiveFailures = :before',
        state?.quarantine ? 'attribute_exists(quarantine)' : 'attribute_not_exists(quarantine)',
      ].join(' AND ');
      const failed = await this.transact('countFailure', [
        {
          Update: {
            TableName: this.tableName,
            Key: keys.jobState(jobId),
            UpdateExpression: `SET jobId = :jobId, consecutiveFailures = :failures${quarantine ? ', quarantine = :quarantine' : ''}`,
            ConditionExpression: unchanged,
            ExpressionAttributeValues: {
              ':jobId': jobId,
              ':failures': failures,
              ':before': before,
              ...(quarantine ? { ':quarantine': quarantine } : {}),
            },
          },
        },
        {
          Update: {
            TableName: this.tableName,
            Key: keys.run(jobRunId),
            UpdateExpression: 'SET failure = :count',
            ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(failure)',
            ExpressionAttributeValues: { ':count': count },
          },
        },
      ]);
      if (failed === null) return count;
      // Either the run was counted meanwhile (the next pass returns that) or the job state moved
      // (count again).
    }
    return 'moved';
  }

  async completeRun(
    summary: RunSummary,
    endedAt: string,
    effect: RunEffect,
    releaseSlot = false,
  ): Promise<boolean> {
    const set = [
      'jobId = :jobId',
      'lastRunAt = :at',
      'lastStatus = :status',
      'lastQuality = :quality',
    ];
    const values: Record<string, unknown> = {
      ':jobId': summary.jobId,
      ':at': endedAt,
      ':status': summary.status,
      ':quality': summary.quality,
      ':one': 1,
    };
    if (effect.kind === 'success') {
      set.push('consecutiveFailures = :zero', 'lastSuccessAt = :at');
      values[':zero'] = 0;
    }
    if (effect.kind === 'failure') {
      set.push('lastFailureAt = :at', 'lastFailureKind = :failureKind');
      values[':failureKind'] = summary.error?.kind ?? 'internal';
    }
    // A failure was counted, and any quarantine entered, by countFailure before the outcome was
    // sealed.
    const failed = await this.transact('completeRun', [
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
          UpdateExpression: `SET ${set.join(', ')} ADD runCount :one`,
          ExpressionAttributeValues: values,
        },
      },
      { Delete: { TableName: this.tableName, Key: keys.openRun(summary.jobRunId) } },
      // Only the run holding the slot frees it (none other can hold it while this one does).
      ...(releaseSlot
        ? [
            {
              Update: {
                TableName: this.tableName,
                Key: keys.jobSlot(summary.jobId),
                UpdateExpression: 'REMOVE active',
                ConditionExpression: 'attribute_not_exists(active) OR active.jobRunId = :run',
                ExpressionAttributeValues: { ':run': summary.jobRunId },
              },
            },
          ]
        : []),
    ]);
    return failed === null;
  }

  async releaseQuarantine(jobId: string): Promise<Quarantine | null> {
    const out = await this.call('releaseQuarantine', () =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.jobState(jobId),
          UpdateExpression: 'REMOVE quarantine SET consecutiveFailures = :zero',
          ExpressionAttributeValues: { ':zero': 0 },
          ReturnValues: 'UPDATED_OLD',
        }),
      ),
    );
    return (out.Attributes?.quarantine as Quarantine | undefined) ?? null;
  }

  async listRunsBefore(
    cutoff: string,
  ): Promise<{ jobRunId: string; jobId: string; scheduledTime: string }[]> {
    const runs: { jobRunId: string; jobId: string; scheduledTime: string }[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.call('listRunsBefore', () =>
        this.doc.send(
          new ScanCommand({
            TableName: this.tableName,
            FilterExpression:
              'begins_with(pk, :run) AND sk = :sk AND phase = :finalized AND scheduledTime < :cutoff',
            ExpressionAttributeValues: {
              ':run': 'RUN#',
              ':sk': 'RUN',
              ':finalized': 'finalized',
              ':cutoff': cutoff,
            },
            ProjectionExpression: 'jobRunId, jobId, scheduledTime',
            ExclusiveStartKey: start,
          }),
        ),
      );
      runs.push(
        ...((page.Items ?? []) as { jobRunId: string; jobId: string; scheduledTime: string }[]),
      );
      start = page.LastEvaluatedKey;
    } while (start);
    return runs.sort((a, b) => (a.jobRunId < b.jobRunId ? -1 : 1));
  }

  async deleteRun(jobRunId: string): Promise<void> {
    const items = await this.call('deleteRun', () =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.run(jobRunId).pk },
          ProjectionExpression: 'pk, sk',
        }),
      ),
    );
    for (const item of items.Items ?? []) {
      await this.call('deleteRun', () =>
        this.doc.send(
          new DeleteCommand({ TableName: this.tableName, Key: { pk: item.pk, sk: item.sk } }),
        ),
      );
    }
  }

  async getControls(): Promise<Controls> {
    const controls: Controls = {
      safety: null,
      globalKillSwitch: null,
      jobKillSwitches: {},
      datasets: {},
      pausedJobs: {},
    };
    for (const item of await this.queryPartition('getControls', keys.controlPartition)) {
      const sk = item.sk as string;
      const value = strip<Record<string, unknown>>(item);
      if (sk === 'SAFETY') controls.safety = value as SafetyState;
      else if (sk === 'KILL#GLOBAL') controls.globalKillSwitch = value as KillSwitch;
      else if (sk.startsWith('KILL#JOB#'))
        controls.jobKillSwitches[sk.slice('KILL#JOB#'.length)] = value as KillSwitch;
      else if (sk.startsWith('DATASET#'))
        controls.datasets[sk.slice('DATASET#'.length)] = value as DatasetIntegrity;
      else if (sk.startsWith('PAUSE#JOB#'))
        controls.pausedJobs[sk.slice('PAUSE#JOB#'.length)] = value as unknown as SchedulePause;
    }
    return controls;
  }

  async setSchedulePause(jobId: string, pause: SchedulePause | null): Promise<void> {
    await this.call('setSchedulePause', () =>
      pause
        ? this.doc.send(
            new PutCommand({
              TableName: this.tableName,
              Item: { ...keys.schedulePause(jobId), ...pause },
            }),
          )
        : this.doc.send(
            new DeleteCommand({ TableName: this.tableName, Key: keys.schedulePause(jobId) }),
          ),
    );
  }

  /** A scan, as listRunsBefore: run history is read by an operator, not on any run's path. */
  async listRuns(query: RunQuery): Promise<RunItem[]> {
    const runs: RunItem[] = [];
    const values: Record<string, unknown> = { ':run': 'RUN#', ':sk': 'RUN' };
    const filters = ['begins_with(pk, :run)', 'sk = :sk'];
    if (query.jobId !== undefined) {
      filters.push('jobId = :jobId');
      values[':jobId'] = query.jobId;
    }
    if (query.since !== undefined) {
      filters.push('scheduledTime >= :since');
      values[':since'] = query.since;
    }
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.call('listRuns', () =>
        this.doc.send(
          new ScanCommand({
            TableName: this.tableName,
            FilterExpression: filters.join(' AND '),
            ExpressionAttributeValues: values,
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        ),
      );
      runs.push(...(page.Items ?? []).map((item) => strip<RunItem>(item)));
      start = page.LastEvaluatedKey;
    } while (start);
    return runs.sort((a, b) => (a.jobRunId < b.jobRunId ? -1 : a.jobRunId > b.jobRunId ? 1 : 0));
  }

  async setSafetyState(state: SafetyState): Promise<void> {
    await this.call('setSafetyState', () =>
      this.doc.send(
        new PutCommand({ TableName: this.tableName, Item: { ...keys.safety(), ...state } }),
      ),
    );
  }

  async setKillSwitch(killSwitch: KillSwitch): Promise<void> {
    await this.call('setKillSwitch', () =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.killSwitch(killSwitch.jobId), ...killSwitch },
        }),
      ),
    );
  }

  async getControlChainHead(): Promise<ControlChainHead | undefined> {
    const out = await this.call('getControlChainHead', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: keys.controlChainHead(),
          ConsistentRead: true,
        }),
      ),
    );
    return out.Item ? strip<ControlChainHead>(out.Item) : undefined;
  }

  async linkControlChain(expectedSequence: number, head: ControlChainHead): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.controlChainHead(), ...head },
          ConditionExpression:
            expectedSequence === 0 ? 'attribute_not_exists(pk)' : '#seq = :expected',
          ...(expectedSequence === 0
            ? {}
            : {
                ExpressionAttributeNames: { '#seq': 'sequence' },
                ExpressionAttributeValues: { ':expected': expectedSequence },
              }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw wrapAwsError(`DynamoDB linkControlChain on ${this.tableName}`, error);
    }
  }

  async setDatasetIntegrity(integrity: DatasetIntegrity): Promise<void> {
    await this.call('setDatasetIntegrity', () =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.datasetIntegrity(integrity.datasetId), ...integrity },
        }),
      ),
    );
  }

  async getJobState(jobId: string): Promise<JobState | undefined> {
    const out = await this.call('getJobState', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: keys.jobState(jobId),
          ConsistentRead: true,
        }),
      ),
    );
    return out.Item
      ? { consecutiveFailures: 0, runCount: 0, ...strip<Partial<JobState>>(out.Item), jobId }
      : undefined;
  }

  async getSchedulerCursor(jobId: string): Promise<string | undefined> {
    const out = await this.call('getSchedulerCursor', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: keys.schedulerCursor(jobId),
          ConsistentRead: true,
        }),
      ),
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
      if (!isConditionFailure(error))
        throw wrapAwsError(`DynamoDB setSchedulerCursor on ${this.tableName}`, error);
    }
  }

  /**
   * One transaction: the counter moves from the last number read to the next (conditionally) and
   * the holder's item is created with it (only if it has none). A lost race re-reads both: if the
   * holder got a number meanwhile (another attempt of the same run), that one is returned.
   */
  async allocateExportSequence(
    dataset: string,
    holder: string,
    at: string,
  ): Promise<ExportSequence> {
    for (let attempt = 0; attempt < MAX_ALLOCATE_ATTEMPTS; attempt++) {
      const read = (key: Record<string, string>) =>
        this.call('allocateExportSequence', () =>
          this.doc.send(
            new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
          ),
        );
      const held = (await read(keys.exportHolder(dataset, holder))).Item;
      if (held)
        return { sequence: held.sequence as number, allocatedAt: held.allocatedAt as string };
      const last =
        ((await read(keys.exportCounter(dataset))).Item?.last as number | undefined) ?? 0;
      const sequence = last + 1;
      const items: NonNullable<TransactWriteCommandInput['TransactItems']> = [
        {
          Put: {
            TableName: this.tableName,
            Item: { ...keys.exportCounter(dataset), dataset, last: sequence },
            ConditionExpression: last === 0 ? 'attribute_not_exists(pk)' : '#last = :last',
            ...(last === 0
              ? {}
              : {
                  ExpressionAttributeNames: { '#last': 'last' },
                  ExpressionAttributeValues: { ':last': last },
                }),
          },
        },
        {
          Put: {
            TableName: this.tableName,
            Item: {
              ...keys.exportHolder(dataset, holder),
              dataset,
              holder,
              sequence,
              allocatedAt: at,
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      ];
      try {
        await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
        return { sequence, allocatedAt: at };
      } catch (error) {
        // A failed condition (another holder moved the counter) or a conflicting transaction on
        // the same items: read again.
        if ((error as { name?: string })?.name !== 'TransactionCanceledException')
          throw wrapAwsError(`DynamoDB allocateExportSequence on ${this.tableName}`, error);
      }
    }
    throw new ThrottlingError(
      `export sequence of ${dataset} kept moving under ${holder}: ${MAX_ALLOCATE_ATTEMPTS} attempts lost the race`,
      { retryAfterSeconds: 1 },
    );
  }

  async getExportSequence(dataset: string): Promise<number> {
    const out = await this.call('getExportSequence', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: keys.exportCounter(dataset),
          ConsistentRead: true,
        }),
      ),
    );
    return (out.Item?.last as number | undefined) ?? 0;
  }
}

/** Concurrent allocations of one dataset's sequence retry this often before reporting contention. */
const MAX_ALLOCATE_ATTEMPTS = 25;
