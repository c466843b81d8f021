import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Who holds something locally (a run claim, the OPSRAIL_HOME lock, a child process): a process id
 * and that process's start time. A pid alone is not enough: pids are reused, and a reused pid must
 * not keep a dead holder's claim alive. Rules: docs/local-stack.md.
 */
export interface ProcessIdentity {
  pid: number;
  /** Milliseconds since the epoch, from the kernel's record of the process where there is one. */
  startedAtMs: number;
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

let bootTimeMs: number | null | undefined;
function bootTime(): number | null {
  if (bootTimeMs === undefined) {
    try {
      const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1];
      bootTimeMs = btime ? Number(btime) * 1000 : null;
    } catch {
      bootTimeMs = null;
    }
  }
  return bootTimeMs;
}

/** A process's start time as the kernel has it (Linux /proc), or null where that cannot be read. */
export function kernelStartTime(pid: number): number | null {
  const boot = bootTime();
  if (boot === null) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime, in clock ticks after boot), counted after the command name's closing
    // paren.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? boot + Math.round((ticks * 1000) / ticksPerSecond()) : null;
  } catch {
    return null;
  }
}

let self: ProcessIdentity | undefined;
export function currentProcess(): ProcessIdentity {
  self ??= {
    pid: process.pid,
    startedAtMs: kernelStartTime(process.pid) ?? Math.round(performance.timeOrigin),
  };
  return self;
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process that `identity` names is still running. Where the kernel's start time can be
 * read it must match (a pid reused by another process is not the holder); elsewhere the pid
 * decides.
 */
export function isProcessAlive(identity: ProcessIdentity): boolean {
  if (!Number.isInteger(identity.pid) || identity.pid <= 0) return false;
  if (identity.pid === process.pid) return identity.startedAtMs === currentProcess().startedAtMs;
  if (!pidExists(identity.pid)) return false;
  const started = kernelStartTime(identity.pid);
  // A zombie keeps its pid until reaped; it holds nothing.
  if (started !== null && isZombie(identity.pid)) return false;
  return started === null || Math.abs(started - identity.startedAtMs) < 1000;
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** `p<pid>t<start ms>`: short, and allowed in a Step Functions execution name. */
export const formatHolder = (identity: ProcessIdentity): string =>
  `p${identity.pid}t${identity.startedAtMs}`;

export function parseHolder(text: string): ProcessIdentity | null {
  const match = /\bp(\d{1,10})t(\d{10,15})\b/.exec(text);
  return match ? { pid: Number(match[1]), startedAtMs: Number(match[2]) } : null;
}
