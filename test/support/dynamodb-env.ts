import { inject } from 'vitest';

// The run's DynamoDB Local (test/support/dynamodb-global-setup.ts) as an environment variable, so
// testStack() and the processes a test spawns (the crash bench) find it the same way.
process.env.OPSRAIL_TEST_DYNAMODB_ENDPOINT = inject('dynamodbEndpoint');
