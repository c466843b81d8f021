import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../local/dynamodb-local';

declare module 'vitest' {
  interface ProvidedContext {
    /** The run's DynamoDB Local; test files keep apart by table names (test/support/local.ts). */
    dynamodbEndpoint: string;
  }
}

/** One DynamoDB Local, in memory, for every integration file of the run. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dynamodb = await startDynamoDbLocal({ dbPath: null });
  project.provide('dynamodbEndpoint', dynamodb.endpoint);
  return () => dynamodb.stop();
}
