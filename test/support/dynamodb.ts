import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomBytes } from 'node:crypto';
import { stateTable } from '../../functions/adapters/table-layout';
import { startDynamoDbLocal } from '../../local/dynamodb-local';

/**
 * The test run's DynamoDB Local (OPSRAIL_TEST_DYNAMODB_ENDPOINT, started once by
 * test/support/dynamodb-global-setup.ts; a file run by hand starts its own) and fresh state tables
 * on it, with the layout the CDK constructs and the local stack use: a contract test can give every
 * case (or every generated sequence) a table of its own.
 */
export async function dynamoDbTables(): Promise<{
  client: DynamoDBClient;
  newStateTable: () => Promise<string>;
  close: () => Promise<void>;
}> {
  let endpoint = process.env.OPSRAIL_TEST_DYNAMODB_ENDPOINT;
  let stop = async () => {};
  if (!endpoint) {
    const own = await startDynamoDbLocal({ dbPath: null });
    endpoint = own.endpoint;
    stop = own.stop;
  }
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const newStateTable = async () => {
    const name = `contract-${randomBytes(6).toString('hex')}`;
    const keys = [
      { AttributeName: stateTable.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: stateTable.sortKey, KeyType: 'RANGE' as const },
    ];
    await client.send(
      new CreateTableCommand({
        TableName: name,
        KeySchema: keys,
        AttributeDefinitions: keys.map((k) => ({
          AttributeName: k.AttributeName,
          AttributeType: 'S' as const,
        })),
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    return name;
  };
  return {
    client,
    newStateTable,
    close: async () => {
      client.destroy();
      await stop();
    },
  };
}
