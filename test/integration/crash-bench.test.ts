import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'vitest';
import { REPO_ROOT } from '../../local/stack';

/**
 * The short variant of `npm run bench`'s crash bench (bench/crash.ts): 5 kill -9s of the scheduler
 * loop at seeded moments, each life owning its own DynamoDB Local and S3 endpoint under the bench's
 * home (not npm test's shared DynamoDB Local), then every figure must hold (0 doubled, 0 lost,
 * verify exits 0, nothing left claimed, no failure counted, nothing of a killed life left after the
 * next start, no DynamoDB Local or S3 endpoint of the home after the final shutdown).
 */
test('crash bench, short: 5 kill -9s leave 0 doubled and 0 lost effects, valid evidence and nothing claimed', {
  timeout: 300_000,
}, async () => {
  const args = [
    '--import',
    'tsx',
    join(REPO_ROOT, 'bench/crash.ts'),
    '--kills',
    '5',
    '--seed',
    '7',
    '--interval',
    '1500',
  ];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

  assert.equal(code, 0, output);
  assert.match(output, /5 kills/);
  assert.match(output, /doubled 0, lost 0/);
  assert.match(output, /lost 0, left claimed 0, false failures 0/);
  assert.match(output, /verify --all.*: exit 0/);
  assert.match(
    output,
    /stacks: 6 lives each started DynamoDB Local \(pids \d+(,\d+){5}\); processes\/endpoints of a killed life left after the next start 0/,
  );
  assert.match(output, /orphaned processes: 0 /);
});
