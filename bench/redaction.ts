/**
 * Benchmark (npm run bench): the redactor sees every output, log line and audit event, so its cost
 * must grow linearly with the input. Each adversarial input below is redacted at two sizes; the
 * larger one must not take much more than its share (at most x10 for 4x the input; a quadratic
 * pattern takes x16) and must stay within the time budget. Exit 1 on a miss.
 */
import { performance } from 'node:perf_hooks';
import { createRedactor } from '../functions/core/redaction';

const redactor = createRedactor({ placeholder: '[REDACTED]', patterns: [] });
const BUDGET_MS_PER_MIB = 500;

const inputs: Record<string, (bytes: number) => string> = {
  'one long word (no @)': (n) => 'x'.repeat(n),
  'words joined by dots, no @': (n) => 'ab.'.repeat(Math.ceil(n / 3)).slice(0, n),
  'many @ without a domain': (n) => 'user@'.repeat(Math.ceil(n / 5)).slice(0, n),
  'base64-looking run': (n) => 'aB3+'.repeat(Math.ceil(n / 4)).slice(0, n),
  'unterminated private key headers': (n) =>
    '-----BEGIN RSA PRIVATE KEY-----\n'.repeat(Math.ceil(n / 32)).slice(0, n),
  'one URL-encoded run (%XX and +)': (n) => 'a%40b+%2'.repeat(Math.ceil(n / 9)).slice(0, n),
  'URL-encoded addresses in a query': (n) =>
    'to=ops%40example.com&'.repeat(Math.ceil(n / 21)).slice(0, n),
  'JSON lines with addresses and tokens': (n) =>
    '{"to":"ops@example.com","auth":"Bearer abcdefgh12345678"}\n'
      .repeat(Math.ceil(n / 60))
      .slice(0, n),
};

const time = (text: string): number => {
  const started = performance.now();
  redactor.text(text);
  return performance.now() - started;
};

/** The fastest of five: one timing is at the mercy of a GC pause or a JIT tier-up, the fastest is not. */
const fastest = (text: string): number => Math.min(...Array.from({ length: 5 }, () => time(text)));

let failed = false;
for (const [name, make] of Object.entries(inputs)) {
  const small = make(256 * 1024);
  const large = make(1024 * 1024);
  time(small); // warm-up
  const smallMs = fastest(small);
  const largeMs = fastest(large);
  const growth = largeMs / Math.max(smallMs, 1);
  const ok = largeMs <= BUDGET_MS_PER_MIB && growth <= 10;
  failed ||= !ok;
  console.log(
    `${ok ? 'ok  ' : 'SLOW'} ${name.padEnd(38)} 256 KiB ${smallMs.toFixed(1).padStart(7)} ms   1 MiB ${largeMs.toFixed(1).padStart(7)} ms   x${growth.toFixed(1)}`,
  );
}
console.log(
  failed
    ? `FAILED: budget ${BUDGET_MS_PER_MIB} ms per MiB, growth at most x10 for 4x the input (quadratic is x16)`
    : 'redaction is linear and within budget',
);
process.exit(failed ? 1 : 0);
