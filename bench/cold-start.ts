/**
 * Cold-start bench: builds every shipped function with the infra's bundling options
 * (infra/bundling.ts through local/bundles.ts, byte for byte what CDK deploys) and a yardstick
 * bundle that imports only `@aws-sdk/client-dynamodb` (bench/cold-start-baseline.ts), then times
 * each one's module init: a fresh Node process (this one's binary, Node 24 as the project pins)
 * `require`s the bundle, as Lambda's runtime does at INIT, with the SDK resolved from this
 * package's dependencies the way Lambda resolves it from the runtime's. The bundles are timed in
 * turn, round after round, so a busy machine slows them all alike; each figure is the median over
 * the rounds, and the ratio is against the yardstick's median.
 *
 * Prints size, init time and ratio per function; exits 1 when a bundle is over 500 KB or its init
 * over 1.3× the yardstick's (issue targets, docs/failure-semantics.md "Cold start").
 *
 *   npx tsx bench/cold-start.ts [--rounds N]    # default 15
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSync } from 'esbuild';
import { BUNDLE_FILE } from '../infra/bundling';
import { REPO_ROOT } from '../infra/paths';
import { buildBundle, esbuildOptions, offerRuntimeSdk, SHIPPED_FUNCTIONS } from '../local/bundles';

const MAX_BUNDLE_BYTES = 500 * 1024;
const MAX_INIT_RATIO = 1.3;
const BASELINE = 'only @aws-sdk/client-dynamodb';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' } } });
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');

const dir = mkdtempSync(join(tmpdir(), 'opsrail-cold-start-'));
try {
  const bundles = new Map<string, string>();
  for (const fn of SHIPPED_FUNCTIONS) bundles.set(fn, buildBundle(fn, dir));
  const baselineDir = join(dir, 'baseline');
  mkdirSync(baselineDir, { recursive: true });
  buildSync({
    ...esbuildOptions('preflight', join(baselineDir, BUNDLE_FILE)),
    entryPoints: [join(REPO_ROOT, 'bench', 'cold-start-baseline.ts')],
  });
  writeFileSync(join(baselineDir, 'package.json'), '{"type":"commonjs"}\n');
  offerRuntimeSdk(baselineDir);
  bundles.set(BASELINE, join(baselineDir, BUNDLE_FILE));

  // Module init as Lambda's INIT runs it: the time `require` of the handler file takes.
  const probe = `const t = process.hrtime.bigint(); require(process.argv[1]);
    console.log(Number(process.hrtime.bigint() - t) / 1e6);`;
  const samples = new Map<string, number[]>([...bundles.keys()].map((k) => [k, []]));
  for (let round = 0; round < rounds; round++)
    for (const [name, path] of bundles) {
      const out = execFileSync(process.execPath, ['-e', probe, path], { encoding: 'utf8' });
      samples.get(name)!.push(Number(out.trim()));
    }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const baselineMs = median(samples.get(BASELINE)!);
  const misses: string[] = [];
  console.log(`cold start on Node ${process.version}, median of ${rounds} rounds`);
  console.log('function            size KB   init ms   ratio');
  for (const [name, path] of bundles) {
    const bytes = statSync(path).size;
    const ms = median(samples.get(name)!);
    const ratio = ms / baselineMs;
    const row = `${name.padEnd(18)}  ${(bytes / 1024).toFixed(0).padStart(7)}  ${ms.toFixed(1).padStart(8)}  ${ratio.toFixed(2).padStart(6)}`;
    console.log(row);
    if (name === BASELINE) continue;
    if (bytes > MAX_BUNDLE_BYTES) misses.push(`${name}: ${(bytes / 1024).toFixed(0)} KB > 500 KB`);
    if (ratio > MAX_INIT_RATIO)
      misses.push(`${name}: init ${ratio.toFixed(2)}× the yardstick > ${MAX_INIT_RATIO}×`);
  }
  console.log(`targets: ≤ 500 KB per bundle, init ≤ ${MAX_INIT_RATIO}× the ${BASELINE} bundle`);
  if (misses.length > 0) {
    console.log(`MISSED:\n  ${misses.join('\n  ')}`);
    process.exitCode = 1;
  } else console.log('every target met');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
