/**
 * The cold-start bench's yardstick (bench/cold-start.ts): a function that imports only the
 * DynamoDB client, bundled with the shipped options like every opsrail function.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export const handler = async () => new DynamoDBClient({});
