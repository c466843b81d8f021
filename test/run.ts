/**
 * The test entry point (npm test): starts one DynamoDB Local for the whole run, in memory, then runs
 * every test file with node's test runner. Integration tests share it and keep apart by table names.
 */
import { spawn } from 'node:child_process';
import { globSync } from 'node:fs';
import { startDynamoDbLocal } from '../local/dynamodb-local';

// `npm test -- <part of a path> …` narrows the run to matching files; arguments starting with -- go to node.
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const nodeArgs = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = globSync('test/{unit,integration,infra}/**/*.test.ts')
  .filter((f) => filters.length === 0 || filters.some((part) => f.includes(part)))
  .sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const dynamodb = await startDynamoDbLocal({ dbPath: null });
let code = 1;
try {
  code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...nodeArgs, ...files], {
      stdio: 'inherit',
      env: { ...process.env, OPSRAIL_TEST_DYNAMODB_ENDPOINT: dynamodb.endpoint, OPSRAIL_LOG_LEVEL: 'SILENT' },
    });
    child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
  });
} finally {
  await dynamodb.stop();
}
process.exit(code);
