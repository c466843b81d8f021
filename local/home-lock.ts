import { linkSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  currentProcess,
  isProcessAlive,
  kernelStartTime,
  type ProcessIdentity,
} from './process-identity';
import { HomeInUseError } from './errors';

/**
 * One owner per OPSRAIL_HOME (docs/local-stack.md). The owner is the process that runs the home's
 * DynamoDB Local and S3 endpoint: `npm start`, or a CLI command when no `npm start` is running. Its
 * lock file, `stack.json`, is also the pid file: it names the owner (pid and start time), the child
 * processes it started and, once they answer, their endpoints. Other CLI commands attach to those.
 */
export interface StackFile {
  owner: ProcessIdentity & { command: string };
  children: (ProcessIdentity & { name: string })[];
  dynamodbEndpoint?: string;
  s3Endpoint?: string;
}

export const stackFilePath = (home: string) => join(home, 'stack.json');

export function readStackFile(home: string): StackFile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(stackFilePath(home), 'utf8')) as Partial<StackFile>;
    if (!parsed.owner || typeof parsed.owner.pid !== 'number') return undefined;
    return { children: [], ...parsed } as StackFile;
  } catch {
    return undefined;
  }
}

/**
 * Refuses at once when a live process holds the home (npm start checks it before anything else).
 */
export function assertHomeFree(home: string): void {
  const held = readStackFile(home);
  if (held && isProcessAlive(held.owner)) throw new HomeInUseError(home, held.owner);
}

const sameOwner = (a: ProcessIdentity | undefined, b: ProcessIdentity) =>
  !!a && a.pid === b.pid && a.startedAtMs === b.startedAtMs;

/**
 * Ends the processes a dead owner left behind (those the pid file names, still the same processes).
 */
export async function reapChildren(children: StackFile['children']): Promise<number[]> {
  const alive = children.filter((child) => isProcessAlive(child));
  for (const child of alive) signal(child.pid, 'SIGTERM');
  for (let waited = 0; waited < 5000 && alive.some((c) => isProcessAlive(c)); waited += 100)
    await new Promise((r) => setTimeout(r, 100));
  for (const child of alive) if (isProcessAlive(child)) signal(child.pid, 'SIGKILL');
  return alive.map((c) => c.pid);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone meanwhile
  }
}

/**
 * Processes running with this home in their command line (DynamoDB Local's -dbPath, a watchdog),
 * from /proc, so a test or bench can check that nothing of a home is left (Linux; [] elsewhere).
 */
export function processesOfHome(home: string): { pid: number; command: string }[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return [];
  }
  const needle = join(home, 'dynamodb');
  return pids.flatMap((pid) => {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return args.includes(needle) && Number(pid) !== process.pid
        ? [{ pid: Number(pid), command: args.join(' ').trim() }]
        : [];
    } catch {
      return [];
    }
  });
}

export interface HomeLock {
  /** Records what this owner runs (the pid file) and, once ready, where. */
  update(patch: Partial<Omit<StackFile, 'owner'>>): void;
  /** Removes the lock file, only if it is still this process's. */
  release(): void;
}

/**
 * Takes the home's lock, or says who holds it. A holder that is gone (kill -9, a crash) is detected
 * by pid and start time; what it left running is stopped first (from its pid file, and any process
 * still using the home's DynamoDB data), then the lock is taken over.
 */
export async function acquireHomeLock(home: string, command: string): Promise<HomeLock> {
  const self = { ...currentProcess(), command };
  const path = stackFilePath(home);
  let current: StackFile = { owner: self, children: [] };
  const write = (file: StackFile) => {
    const tmp = `${path}.${self.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(file));
    return tmp;
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    const tmp = write(current);
    try {
      linkSync(tmp, path); // atomic: fails if a lock file exists
      rmSync(tmp, { force: true });
      return {
        update(patch) {
          current = { ...current, ...patch, owner: self };
          if (!sameOwner(readStackFile(home)?.owner, self)) return;
          renameSync(write(current), path);
        },
        release() {
          if (sameOwner(readStackFile(home)?.owner, self)) rmSync(path, { force: true });
        },
      };
    } catch (error) {
      rmSync(tmp, { force: true });
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const held = readStackFile(home);
    if (held && isProcessAlive(held.owner)) throw new HomeInUseError(home, held.owner);
    // The holder is gone: stop what it left, then take its place (unless another process just did).
    if (held) await reapChildren(held.children);
    // Also what no pid file names (a kill -9 between spawning Java and writing the file).
    const unlisted = processesOfHome(home).map((p) => ({
      pid: p.pid,
      name: p.command,
      startedAtMs: kernelStartTime(p.pid) ?? 0,
    }));
    await reapChildren(unlisted);
    const again = readStackFile(home);
    if (!again || (held && sameOwner(again.owner, held.owner))) rmSync(path, { force: true });
  }
  throw new Error(`could not take the lock ${path}`);
}
