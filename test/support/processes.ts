import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { freePort } from '../../local/dynamodb-local';
import { REPO_ROOT } from '../../local/stack';
import { processesOfHome } from '../../local/home-lock';
import { policyFixture } from './local';

/** A policy copy whose local approval page listens on a free port (8787 belongs to other tests). */
export async function policyWithFreeApprovalPort(
  edit: (policy: any) => any = (p) => p,
): Promise<string> {
  const port = await freePort();
  return policyFixture({
    'local.json': (p) =>
      edit({ ...p, approvals: { ...p.approvals, linkBaseUrl: `http://127.0.0.1:${port}` } }),
  });
}

export interface Started {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>;
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
}

/** `npm start` (or any npm script) as a user types it, in its own process group. */
export function npmStart(env: Record<string, string>, script = 'start'): Started {
  const child = spawn('npm', [script], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    child,
    output: () => text,
    exited,
    async waitFor(pattern, ms = 120_000) {
      for (const deadline = Date.now() + ms; !pattern.test(text); ) {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`exited before ${pattern}: ${text}`);
        if (Date.now() > deadline) throw new Error(`no ${pattern} within ${ms} ms: ${text}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}

/**
 * Waits until no process uses the home (DynamoDB Local, its watchdog); returns what is still there.
 */
export async function orphansOf(
  home: string,
  ms = 15_000,
): Promise<{ pid: number; command: string }[]> {
  for (
    const deadline = Date.now() + ms;
    Date.now() < deadline;
    await new Promise((r) => setTimeout(r, 200))
  ) {
    if (processesOfHome(home).length === 0) return [];
  }
  return processesOfHome(home);
}

/** Whether `pid` runs (a zombie waiting to be reaped does not). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

export async function waitUntilGone(pid: number, ms = 15_000): Promise<boolean> {
  for (const deadline = Date.now() + ms; isRunning(pid) && Date.now() < deadline; )
    await new Promise((r) => setTimeout(r, 200));
  return !isRunning(pid);
}
