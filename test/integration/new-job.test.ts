import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'vitest';
import { newJob } from '../../cli/new-job';

const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'cli/bin/opsrail.mjs');

function exec(
  file: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  // Without the runner's own context, a child `node --test` reports to its stdout, not to this
  // runner.
  const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
  return new Promise((done) =>
    execFile(
      file,
      args,
      { cwd: options.cwd ?? REPO, env: { ...inherited, ...options.env }, timeout: 180_000 },
      (error, stdout, stderr) =>
        done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

/**
 * A scratch project (the user project's policy/, an empty jobs/) that resolves `opsrail` to this
 * checkout's source and `zod` to its node_modules, as an installed package would.
 */
function scratchProject(): string {
  const dir = mkdtempSync(join(REPO, '.scratch', 'new-job-'));
  cpSync(join(REPO, 'test/fixtures/user-project/policy'), join(dir, 'policy'), { recursive: true });
  mkdirSync(join(dir, 'jobs'));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: join(REPO, 'tsconfig.json'),
      compilerOptions: {
        noEmit: true,
        allowImportingTsExtensions: true,
        paths: {
          opsrail: [join(REPO, 'functions/jobs/api.ts')],
          zod: [join(REPO, 'node_modules/zod')],
        },
      },
      include: ['jobs', 'stand-ins'],
    }),
  );
  cpSync(join(REPO, 'test/fixtures/user-project/jobs'), join(dir, 'jobs'), { recursive: true });
  return dir;
}

describe('opsrail new-job', () => {
  mkdirSync(join(REPO, '.scratch'), { recursive: true });

  test('module: writes the module and its test and a disabled catalog entry; the output compiles, its test passes, the policy loads', async () => {
    const dir = scratchProject();
    const env = { OPSRAIL_POLICY_DIR: join(dir, 'policy') };
    const made = await exec(process.execPath, [BIN, 'new-job', 'nightly_digest'], { env });
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /npx opsrail run nightly_digest/);
    assert.match(made.stdout, /"nightly_digest": \{ "enabled": true \}/);
    assert.ok(
      existsSync(join(dir, 'jobs/nightly_digest.ts')) &&
        existsSync(join(dir, 'jobs/nightly_digest.test.ts')),
    );
    const entry = JSON.parse(readFileSync(join(dir, 'policy/catalog.json'), 'utf8')).jobs.at(-1);
    assert.deepEqual([entry.jobId, entry.implementation], ['nightly_digest', { kind: 'module' }]);

    const tsc = await exec(
      process.execPath,
      [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')],
      { cwd: dir },
    );
    assert.equal(tsc.code, 0, tsc.stdout + tsc.stderr);
    const tested = await exec(
      process.execPath,
      ['--import', 'tsx', '--test', 'jobs/nightly_digest.test.ts'],
      { cwd: dir },
    );
    assert.equal(tested.code, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /(ℹ|#) pass 1/);

    // The catalog (with the new module) loads; the job is listed, disabled.
    const jobs = await exec(process.execPath, [BIN, 'jobs', '--json'], { env });
    assert.equal(jobs.code, 0, jobs.stderr);
    assert.deepEqual(
      JSON.parse(jobs.stdout).jobs.find((j: { jobId: string }) => j.jobId === 'nightly_digest')
        ?.enabled,
      false,
    );

    // Nothing is overwritten: a second new-job of the same id is refused, naming the catalog entry.
    const again = await exec(process.execPath, [BIN, 'new-job', 'nightly_digest'], { env });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /'nightly_digest' is already declared/);
  });

  test('lambda and http: a stand-in with its test, or a catalog entry alone; bad ids and kinds are usage errors', async () => {
    const dir = scratchProject();
    const env = { OPSRAIL_POLICY_DIR: join(dir, 'policy') };
    const lambda = await exec(
      process.execPath,
      [BIN, 'new-job', 'ledger_sync', '--kind', 'lambda'],
      { env },
    );
    assert.equal(lambda.code, 0, lambda.stderr);
    assert.match(lambda.stdout, /"standIn": \{ "module": "..\/stand-ins\/ledger_sync.ts" \}/);
    const tested = await exec(
      process.execPath,
      ['--import', 'tsx', '--test', 'stand-ins/ledger_sync.test.ts'],
      { cwd: dir },
    );
    assert.equal(tested.code, 0, tested.stdout + tested.stderr);
    const http = await exec(process.execPath, [BIN, 'new-job', 'ping_hook', '--kind', 'http'], {
      env,
    });
    assert.equal(http.code, 0, http.stderr);
    const jobs = JSON.parse(readFileSync(join(dir, 'policy/catalog.json'), 'utf8')).jobs;
    assert.deepEqual(
      jobs.slice(-2).map((j: { implementation: { kind: string } }) => j.implementation.kind),
      ['lambda', 'http'],
    );
    const tsc = await exec(
      process.execPath,
      [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')],
      { cwd: dir },
    );
    assert.equal(tsc.code, 0, tsc.stdout + tsc.stderr);
    assert.equal((await exec(process.execPath, [BIN, 'new-job', 'Bad-Id'], { env })).code, 2);
    assert.equal(
      (await exec(process.execPath, [BIN, 'new-job', 'ok_id', '--kind', 'python'], { env })).code,
      2,
    );
  });

  test('in a commonjs project (npm init’s default) the modules’ folder gets a package.json saying ES modules; in an ESM one it does not', () => {
    // Prepare: the same policy in a project whose package.json says commonjs, outside the repo.
    const cjs = mkdtempSync(join(tmpdir(), 'opsrail-cjs-'));
    writeFileSync(join(cjs, 'package.json'), JSON.stringify({ name: 'p', type: 'commonjs' }));
    cpSync(join(REPO, 'test/fixtures/user-project/policy'), join(cjs, 'policy'), {
      recursive: true,
    });
    const esm = scratchProject();

    // Act
    const inCjs = newJob(join(cjs, 'policy'), 'cjs_job', 'module');
    const inEsm = newJob(join(esm, 'policy'), 'esm_job', 'module');

    // Assess
    assert.deepEqual(JSON.parse(readFileSync(join(cjs, 'jobs/package.json'), 'utf8')), {
      type: 'module',
    });
    assert.ok(inCjs.written.includes(join(cjs, 'jobs/package.json')));
    assert.match(inCjs.instructions, /wrote .*jobs\/package\.json \(its modules are ES modules\)/);
    assert.equal(existsSync(join(esm, 'jobs/package.json')), false);
    assert.doesNotMatch(inEsm.instructions, /package\.json/);
  });
});
