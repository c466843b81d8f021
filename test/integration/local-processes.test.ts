import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'vitest';
import { HomeInUseError } from '../../local/errors';
import {
  acquireHomeLock,
  processesOfHome,
  readStackFile,
  stackFilePath,
} from '../../local/home-lock';
import { kernelStartTime } from '../../local/process-identity';
import {
  npmStart,
  waitUntilGone,
  orphansOf,
  policyWithFreeApprovalPort,
} from '../support/processes';

const newHome = () => mkdtempSync(join(tmpdir(), 'opsrail-proc-'));
const READY = /scheduling \d+ enabled job\(s\)/;

describe('npm start as a process: policy, one instance per home, signals, no orphans', () => {
  test('an invalid policy exits 2 at once with the error, before any process is started', async () => {
    const home = newHome();
    const policyDir = await policyWithFreeApprovalPort((p) => ({
      ...p,
      thresholds: { ...p.thresholds, runLeaseSeconds: 'soon' },
    }));
    const started = Date.now();
    const run = npmStart({ OPSRAIL_HOME: home, OPSRAIL_POLICY_DIR: policyDir });
    assert.equal(await run.exited, 2, run.output());
    assert.match(run.output(), /local\.json/);
    assert.match(run.output(), /runLeaseSeconds/);
    assert.ok(Date.now() - started < 60_000);
    assert.equal(existsSync(stackFilePath(home)), false, 'no lock left');
    assert.equal(existsSync(join(home, 'dynamodb')), false, 'DynamoDB Local was never started');
    assert.deepEqual(processesOfHome(home), []);
  });

  test('a second npm start on the same home is refused and deletes nothing; SIGTERM to npm stops the first cleanly', async () => {
    const home = newHome();
    const env = { OPSRAIL_HOME: home, OPSRAIL_POLICY_DIR: await policyWithFreeApprovalPort() };
    const first = npmStart(env);
    try {
      await first.waitFor(READY);
      const lockBefore = readFileSync(stackFilePath(home), 'utf8');
      const second = npmStart(env);
      assert.equal(await second.exited, 3, second.output());
      assert.match(
        second.output(),
        new RegExp(
          `OPSRAIL_HOME ${home} is in use by pid ${readStackFile(home)?.owner.pid} \\(opsrail start`,
        ),
      );
      assert.equal(
        readFileSync(stackFilePath(home), 'utf8'),
        lockBefore,
        'the refused one left the lock as it was',
      );
      assert.ok(processesOfHome(home).length > 0, 'the first one still runs DynamoDB Local');

      // What a service manager or `kill <npm pid>` does: npm passes it on, the scheduler stops as
      // for Ctrl-C.
      process.kill(first.child.pid as number, 'SIGTERM');
      const code = await first.exited;
      assert.ok(code === 0 || code === 'SIGTERM' || code === 143, `npm ended with ${code}`);
      await first
        .waitFor(/SIGTERM: stopping, waiting for runs in flight/, 1000)
        .catch(() => assert.fail(first.output()));
      assert.deepEqual(await orphansOf(home), []);
      for (let i = 0; i < 50 && existsSync(stackFilePath(home)); i++)
        await new Promise((r) => setTimeout(r, 200));
      assert.equal(existsSync(stackFilePath(home)), false, 'the owner removed its own lock');
    } finally {
      if (first.child.exitCode === null) process.kill(-(first.child.pid as number), 'SIGKILL');
    }
  });

  test('kill -9 of npm start leaves no DynamoDB Local; the next start takes the home over; kill -9 of npm alone stops it', async () => {
    const home = newHome();
    const env = { OPSRAIL_HOME: home, OPSRAIL_POLICY_DIR: await policyWithFreeApprovalPort() };
    const first = npmStart(env);
    await first.waitFor(READY);
    const owner = readStackFile(home)?.owner.pid as number;
    const children = readStackFile(home)?.children ?? [];
    assert.equal(children.length, 2, 'the pid file names the watchdog and Java');
    process.kill(owner, 'SIGKILL'); // the scheduler itself, no chance to clean up
    await first.exited;
    assert.deepEqual(await orphansOf(home), [], 'Java died with its parent');
    for (const child of children)
      assert.ok(await waitUntilGone(child.pid), `${child.name} ${child.pid} is gone`);
    assert.ok(existsSync(stackFilePath(home)), 'the dead owner could not remove its lock');

    const second = npmStart(env);
    try {
      await second.waitFor(READY);
      assert.notEqual(readStackFile(home)?.owner.pid, owner);
      // kill -9 of npm only: the scheduler sees its parent gone and stops as if told to.
      process.kill(second.child.pid as number, 'SIGKILL');
      const node = readStackFile(home)?.owner.pid as number;
      assert.ok(await waitUntilGone(node, 30_000), 'the scheduler stopped after npm died');
      assert.deepEqual(await orphansOf(home), []);
      assert.equal(existsSync(stackFilePath(home)), false);
    } finally {
      try {
        process.kill(-(second.child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
});

describe('the home lock (pid file)', () => {
  test('a live holder is named in the refusal; its lock is never removed by another', async () => {
    const home = newHome();
    const lock = await acquireHomeLock(home, 'start');
    await assert.rejects(
      acquireHomeLock(home, 'run'),
      (error: unknown) =>
        error instanceof HomeInUseError && /in use by pid \d+ \(opsrail start/.test(error.message),
    );
    assert.ok(existsSync(stackFilePath(home)));
    lock.release();
    assert.equal(existsSync(stackFilePath(home)), false);
    const again = await acquireHomeLock(home, 'run');
    again.release();
  });

  test('a dead holder is seen by pid and start time; what its pid file names is stopped, then the home is taken', async () => {
    const home = newHome();
    mkdirSync(join(home, 'dynamodb'), { recursive: true });
    // A leftover "DynamoDB Local": a process whose command line names the home's data directory.
    const leftover = spawn('/bin/sh', ['-c', 'sleep 300; :', 'leftover', join(home, 'dynamodb')], {
      detached: true,
      stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 200));
    const pid = leftover.pid as number;
    const leftoverEnded = new Promise((resolve) =>
      leftover.once('exit', (_code, signal) => resolve(signal)),
    );
    assert.equal(processesOfHome(home).length, 1);
    // Its owner: this test's pid with another start time, i.e. a process that is gone and whose pid
    // was reused.
    writeFileSync(
      stackFilePath(home),
      JSON.stringify({
        owner: { pid: process.pid, startedAtMs: 1, command: 'start' },
        children: [{ pid, startedAtMs: kernelStartTime(pid), name: 'dynamodb-local' }],
      }),
    );
    const lock = await acquireHomeLock(home, 'start');
    try {
      assert.equal(readStackFile(home)?.owner.command, 'start');
      assert.notEqual(readStackFile(home)?.owner.startedAtMs, 1);
      assert.deepEqual(processesOfHome(home), []);
      assert.equal(await leftoverEnded, 'SIGTERM');
    } finally {
      lock.release();
      leftover.kill('SIGKILL');
    }
  });
});
