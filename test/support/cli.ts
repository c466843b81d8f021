import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

/** The CLI's entry point, as `npx opsrail` runs it. */
export const OPSRAIL_BIN = resolve(import.meta.dirname, '..', '..', 'cli', 'bin', 'opsrail.mjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time of the command, in milliseconds. */
  ms: number;
}

/**
 * Runs `opsrail <args>` in a child process on this Node, with `env` over the test's environment;
 * never rejects: a failing command is its exit code.
 */
export function runOpsrail(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<CliResult> {
  const started = Date.now();
  return new Promise((done) => {
    execFile(
      process.execPath,
      [OPSRAIL_BIN, ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs },
      (error, stdout, stderr) =>
        done({
          code: error ? Number((error as { code?: number }).code ?? 1) : 0,
          stdout,
          stderr,
          ms: Date.now() - started,
        }),
    );
  });
}
