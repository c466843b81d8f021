import {
  IdempotencyItemAlreadyExistsError,
  IdempotencyItemNotFoundError,
  IdempotencyRecordStatus,
} from '@aws-lambda-powertools/idempotency';
import {
  BasePersistenceLayer,
  IdempotencyRecord,
} from '@aws-lambda-powertools/idempotency/persistence';
import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import { stored } from './memory-kit';

interface Item {
  status: IdempotencyRecord['status'];
  expiry?: number;
  inProgressExpiry?: number;
  responseData?: JSONValue;
  validation?: string;
}

/** The idempotency table in memory: one per stack, shared by every Execute handler built on it. */
export type MemoryIdempotencyTable = Map<string, Item>;

/**
 * Powertools' persistence layer over a Map, with DynamoDBPersistenceLayer's conditions: an
 * in-progress record is written only when none exists, the stored one has expired, or it is
 * in progress past its in-progress expiry (which the Execute handler caps at the run's lease).
 */
export class MemoryPersistenceLayer extends BasePersistenceLayer {
  constructor(private readonly table: MemoryIdempotencyTable) {
    super();
  }

  private recordOf(idempotencyKey: string, item: Item): IdempotencyRecord {
    const copy = stored(item);
    return new IdempotencyRecord({
      idempotencyKey,
      status: copy.status,
      expiryTimestamp: copy.expiry,
      inProgressExpiryTimestamp: copy.inProgressExpiry,
      responseData: copy.responseData,
      payloadHash: copy.validation,
    });
  }

  protected async _getRecord(idempotencyKey: string): Promise<IdempotencyRecord> {
    const item = this.table.get(idempotencyKey);
    if (!item) throw new IdempotencyItemNotFoundError();
    return this.recordOf(idempotencyKey, item);
  }

  protected async _putRecord(record: IdempotencyRecord): Promise<void> {
    const existing = this.table.get(record.idempotencyKey);
    const now = Date.now();
    const writable =
      !existing ||
      (existing.expiry !== undefined && existing.expiry < now / 1000) ||
      (existing.status === IdempotencyRecordStatus.INPROGRESS &&
        existing.inProgressExpiry !== undefined &&
        existing.inProgressExpiry < now);
    if (!writable)
      throw new IdempotencyItemAlreadyExistsError(
        `Failed to put record for already existing idempotency key: ${record.idempotencyKey}`,
        this.recordOf(record.idempotencyKey, existing),
      );
    // A put replaces the whole item, as DynamoDB's PutItem does.
    this.table.set(record.idempotencyKey, {
      status: record.getStatus(),
      ...(record.expiryTimestamp !== undefined ? { expiry: record.expiryTimestamp } : {}),
      ...(record.inProgressExpiryTimestamp !== undefined
        ? { inProgressExpiry: record.inProgressExpiryTimestamp }
        : {}),
      ...(this.isPayloadValidationEnabled() && record.payloadHash !== undefined
        ? { validation: record.payloadHash }
        : {}),
    });
  }

  protected async _updateRecord(record: IdempotencyRecord): Promise<void> {
    // An update without a condition: it creates the item when it is missing. Powertools marshalls
    // the result without removing undefined values, so one there fails as it would in DynamoDB.
    const item: Item = { ...this.table.get(record.idempotencyKey), status: record.getStatus() };
    if (record.expiryTimestamp !== undefined) item.expiry = record.expiryTimestamp;
    if (record.responseData !== undefined)
      item.responseData = stored(record.responseData, { undefinedValues: 'refuse' });
    if (this.isPayloadValidationEnabled()) item.validation = record.payloadHash;
    this.table.set(record.idempotencyKey, item);
  }

  protected async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    this.table.delete(record.idempotencyKey);
  }
}
