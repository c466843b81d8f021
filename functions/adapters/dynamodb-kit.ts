import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  TransactWriteCommand,
  type DynamoDBDocumentClient,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { wrapAwsError } from './aws-errors';

export const isConditionFailure = (error: unknown): boolean =>
  error instanceof ConditionalCheckFailedException ||
  (error as { name?: string })?.name === 'ConditionalCheckFailedException';

/** One DynamoDB call: any SDK error leaves as a typed error naming the operation. */
export async function callDynamoDb<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw wrapAwsError(`DynamoDB ${what}`, error);
  }
}

/**
 * Which items of a cancelled transaction failed their condition (undefined: not a cancelled
 * transaction).
 */
function cancelledConditions(error: unknown): boolean[] | undefined {
  if (
    !(error instanceof TransactionCanceledException) &&
    (error as { name?: string })?.name !== 'TransactionCanceledException'
  )
    return undefined;
  return ((error as TransactionCanceledException).CancellationReasons ?? []).map(
    (r) => r.Code === 'ConditionalCheckFailed',
  );
}

/**
 * A transaction: null when it committed, else which of its items failed their condition; other
 * errors are typed.
 */
export async function transactWrite(
  doc: DynamoDBDocumentClient,
  what: string,
  items: NonNullable<TransactWriteCommandInput['TransactItems']>,
): Promise<boolean[] | null> {
  try {
    await doc.send(new TransactWriteCommand({ TransactItems: items }));
    return null;
  } catch (error) {
    const failed = cancelledConditions(error);
    if (failed?.some(Boolean)) return failed;
    throw wrapAwsError(`DynamoDB ${what}`, error);
  }
}
