import { DependencyError, errorForHttpStatus, JobFailedError } from '../../functions/core/errors';
import type { JobImplementation } from '../../functions/jobs/types';

/** A job whose only effect is a counter, so a test can count effects. */
export function countingJob(jobId: string, delayMs = 0): JobImplementation & { effects: string[] } {
  const effects: string[] = [];
  return {
    jobId,
    effects,
    async run({ run }) {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      effects.push(run.jobRunId);
      return {
        quality: 'OK',
        outputs: [
          { name: 'effect.txt', contentType: 'text/plain', body: `effect ${effects.length}\n` },
        ],
        integrityReport: null,
        diagnostics: [],
      };
    },
  };
}

/**
 * A job that always fails without retry (a validation error, like an HTTP 422 from a dependency).
 */
export function failingJob(jobId: string): JobImplementation & { calls: number } {
  const job = {
    jobId,
    calls: 0,
    async run(): Promise<never> {
      job.calls++;
      throw new JobFailedError('validation', 'the dependency answered 422: payload rejected');
    },
  };
  return job;
}

/** A job that fails with a retryable dependency error a given number of times, then succeeds. */
export function flakyJob(jobId: string, failures: number): JobImplementation & { calls: number } {
  const job = {
    jobId,
    calls: 0,
    async run() {
      job.calls++;
      if (job.calls <= failures)
        throw new DependencyError(`dependency answered 503 (call ${job.calls})`);
      return { quality: 'OK' as const, outputs: [], integrityReport: null, diagnostics: [] };
    },
  };
  return job;
}

/**
 * Answers each call with the next scripted HTTP status ('ok' succeeds), as a job calling a flaky
 * API would.
 */
export function scriptedHttpJob(
  jobId: string,
  script: ({ status: number; retryAfter?: string } | 'ok')[],
): JobImplementation & { callTimes: number[] } {
  const job = {
    jobId,
    callTimes: [] as number[],
    async run() {
      job.callTimes.push(Date.now());
      const step = script[Math.min(job.callTimes.length - 1, script.length - 1)];
      if (step === undefined || step === 'ok')
        return { quality: 'OK' as const, outputs: [], integrityReport: null, diagnostics: [] };
      throw errorForHttpStatus(step.status, 'scripted answer', step.retryAfter);
    },
  };
  return job;
}

/** A job whose observability input is missing: it completes, but cannot say its result is good. */
export function blindJob(jobId: string): JobImplementation {
  return {
    jobId,
    async run() {
      return {
        quality: 'UNKNOWN',
        outputs: [],
        integrityReport: null,
        diagnostics: [
          { level: 'warning', code: 'observability_missing', message: 'no metrics for the window' },
        ],
      };
    },
  };
}

/** A job that waits until released, like a run waiting on something slow; released, it fails. */
export function waitingJob(
  jobId: string,
): JobImplementation & { started: Promise<void>; finished: boolean; release(): void } {
  let markStarted: () => void = () => undefined;
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const job = {
    jobId,
    finished: false,
    started: new Promise<void>((resolve) => (markStarted = resolve)),
    release: () => release(),
    async run(): Promise<never> {
      markStarted();
      await released;
      job.finished = true;
      throw new JobFailedError('dependency', 'released after the test');
    },
  };
  return job;
}
