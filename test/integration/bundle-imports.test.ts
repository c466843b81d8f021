import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'vitest';
import { isRuntimeProvided } from '../../infra/bundling';
import { buildSync, type BuildOptions } from 'esbuild';
import { buildBundle, esbuildOptions, SHIPPED_FUNCTIONS } from '../../local/bundles';

// What a shipped bundle may leave outside itself, and what it loads at its cold start
// (docs/failure-semantics.md, "The AWS SDK is the runtime's" and "Cold start").
const cacheDir = mkdtempSync(join(tmpdir(), 'opsrail-bundle-imports-'));
const builtins = new Set(builtinModules);
const isBuiltin = (name: string) => name.startsWith('node:') || builtins.has(name);

/** The module names a bundle requires that esbuild left outside it. */
const requiredOutside = (code: string) =>
  new Set([...code.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]!));

/** The `@aws-sdk/client-*` packages Node has loaded once the bundle's module init is done. */
function clientsLoadedAtInit(bundle: string): string[] {
  const probe = `
    require(${JSON.stringify(bundle)});
    const names = Object.keys(require.cache)
      .map((p) => /[\\\\/]@aws-sdk[\\\\/](client-[^\\\\/]+)[\\\\/]/.exec(p)?.[1])
      .filter(Boolean);
    console.log(JSON.stringify([...new Set(names)].sort()));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' }));
}

describe('what a shipped bundle needs from the Lambda runtime', () => {
  for (const fn of SHIPPED_FUNCTIONS) {
    test(`${fn}: everything but Node built-ins and the runtime's AWS SDK is inside the bundle`, () => {
      // Prepare
      const code = readFileSync(buildBundle(fn, cacheDir), 'utf8');
      // Act
      const outside = [...requiredOutside(code)];
      // Assess
      assert.ok(outside.some(isRuntimeProvided), 'the SDK is left to the runtime');
      assert.deepEqual(
        outside.filter((name) => !isBuiltin(name) && !isRuntimeProvided(name)),
        [],
      );
    });

    test(`${fn}: its cold start loads the DynamoDB client and no other AWS SDK client`, () => {
      // Prepare
      const bundle = buildBundle(fn, cacheDir);
      // Act
      const clients = clientsLoadedAtInit(bundle);
      // Assess
      assert.deepEqual(clients, ['client-dynamodb']);
    });
  }

  test('no shipped function bundles luxon: the handlers read time zones through Intl (functions/core/zoned.ts)', () => {
    // Prepare
    const inputsOf = (fn: string) =>
      Object.keys(
        (
          JSON.parse(
            readFileSync(join(dirname(buildBundle(fn, cacheDir)), 'build.json'), 'utf8'),
          ) as { inputs: Record<string, string> }
        ).inputs,
      );
    // Act
    const withLuxon = SHIPPED_FUNCTIONS.filter((fn) =>
      inputsOf(fn).some((file) => file.includes('node_modules/luxon/')),
    );
    // Assess
    assert.ok(inputsOf('preflight').some((file) => file.includes('node_modules/zod/')));
    assert.deepEqual(withLuxon, []);
  });

  test('no shipped function imports a module of its own bundle dynamically (esbuild would wrap the shared graph, zod and the contracts included, in lazy initializers parsed twice at init)', () => {
    // Prepare
    const bundledDynamicImports = (options: BuildOptions) => {
      const { metafile } = buildSync({ ...options, write: false, metafile: true });
      return Object.entries(metafile.inputs).flatMap(([file, input]) =>
        input.imports
          .filter((i) => i.kind === 'dynamic-import' && !i.external)
          .map((i) => `${file} -> ${i.path}`),
      );
    };
    const dir = mkdtempSync(join(tmpdir(), 'opsrail-dynamic-import-'));
    writeFileSync(join(dir, 'lazy.ts'), 'export const x = 1;\n');
    writeFileSync(join(dir, 'entry.ts'), "export const handler = () => import('./lazy');\n");
    // Act
    const found = SHIPPED_FUNCTIONS.flatMap((fn) =>
      bundledDynamicImports(esbuildOptions(fn, join(cacheDir, 'dyn', fn, 'index.js'))),
    );
    const control = bundledDynamicImports({
      ...esbuildOptions('preflight', join(dir, 'index.js')),
      entryPoints: [join(dir, 'entry.ts')],
    });
    // Assess
    assert.deepEqual(found, []);
    assert.equal(control.length, 1, 'control: a bundled dynamic import is found');
  });

  test('only Execute bundles every built-in job; RequestApproval only those with a plan of their own', () => {
    // Prepare
    const inputsOf = (fn: string) =>
      Object.keys(
        (
          JSON.parse(
            readFileSync(join(dirname(buildBundle(fn, cacheDir)), 'build.json'), 'utf8'),
          ) as { inputs: Record<string, string> }
        ).inputs,
      );
    // Act
    const withJobs = SHIPPED_FUNCTIONS.filter((fn) =>
      inputsOf(fn).includes('functions/jobs/registry.ts'),
    );
    // Assess
    assert.deepEqual(withJobs, ['execute']);
    assert.ok(inputsOf('request-approval').includes('functions/jobs/control-jobs.ts'));
  });

  test('control: a module left outside by mistake is refused, and a bundle cannot find it', () => {
    // Prepare
    const code = 'const z = require("zod"); const s3 = require("@aws-sdk/client-s3");';
    // Act
    const outside = [...requiredOutside(code)];
    // Assess
    assert.deepEqual(
      outside.filter((name) => !isBuiltin(name) && !isRuntimeProvided(name)),
      ['zod'],
    );
  });
});
