/**
 * Runs one job whose code throws outside its handler's promise (from a timer), through the real
 * ASL, in a process of its own: node's test runner fails any test that sees an uncaught exception,
 * while here only the local runtime sees it, as Lambda's runtime would. Prints the outcome as JSON.
 * Used by test/integration/failure-semantics.test.ts.
 */
import type { JobImplementation } from '../../functions/jobs/types';
import { LocalRuntime } from '../../local/runtime';
import { testStack, withTestJobs } from './local';

let calls = 0;
const crashing: JobImplementation = {
  jobId: 'crash_timer',
  async run() {
    calls++;
    await new Promise((_resolve) =>
      setTimeout(() => {
        throw new RangeError('thrown from a timer: the process would crash');
      }, 20),
    );
    throw new Error('unreachable');
  },
};

const stack = await testStack({ policyDir: withTestJobs([{ jobId: 'crash_timer' }]) });
try {
  const runtime = new LocalRuntime(stack.env, [crashing]);
  const outcome = await runtime.run(
    { jobId: 'crash_timer', scheduledTime: '2026-04-01T00:00:00Z', trigger: 'manual' },
    { retryPauseMs: 10 },
  );
  // The runtime (and the process) survive the crash: a second run works as a fresh sandbox would.
  const again = await runtime.run(
    { jobId: 'crash_timer', scheduledTime: '2026-04-01T01:00:00Z', trigger: 'manual' },
    { retryPauseMs: 10 },
  );
  process.stdout.write(`${JSON.stringify({ outcome, again: again.kind, calls })}\n`);
} finally {
  await stack.stop();
}
