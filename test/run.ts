/**
 * The test entry point (npm test): starts one DynamoDB Local for the whole run, in memory, then runs
 * every test file with node's test runner. Integration tests share it and keep apart by table names.
 */
import { spawn } from 'node:child_process';
import { globSync } from 'node:fs';
import { startDynamoDbLocal } from '../local/dynamodb-local';

const files = globSync('test/{unit,integration,infra}/**/*.test.ts').sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const dynamodb = await startDynamoDbLocal({ dbPath: null });
let code = 1;
try {
  code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...process.argv.slice(2), ...files], {
      stdio: 'inherit',
      env: { ...process.env, OPSRAIL_TEST_DYNAMODB_ENDPOINT: dynamodb.endpoint, OPSRAIL_LOG_LEVEL: 'SILENT' },
    });
    child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
  });
} finally {
  await dynamodb.stop();
}
process.exit(code);
