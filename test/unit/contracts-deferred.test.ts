import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, test } from 'vitest';
import * as z from 'zod';
import { deferred, deferredBuilt } from '../../contracts/deferred';
import { join } from 'node:path';
import { REPO_ROOT } from '../../infra/paths';
import { SHIPPED_FUNCTIONS } from '../../local/bundles';
import { eagerSchemasIn } from '../support/eager-schemas';

// docs/failure-semantics.md, "Cold start": importing the contracts builds no schema.
describe('deferred contracts', () => {
  test('importing every shipped handler (and so every contract it uses) builds no contract', async () => {
    // Prepare
    const before = deferredBuilt();
    // Act
    for (const fn of SHIPPED_FUNCTIONS) await import(`../../functions/${fn}/handler.ts`);
    await import('../../contracts');
    // Assess
    assert.equal(deferredBuilt() - before, 0);
  });

  test('no module of contracts/ builds a schema at import: each is deferred', () => {
    // Act
    const eager = eagerSchemasIn(join(REPO_ROOT, 'contracts'));
    // Assess
    assert.deepEqual(eager, []);
  });

  test('control: an eager schema, or one made from another contract, is found', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'opsrail-eager-'));
    writeFileSync(
      join(dir, 'x.ts'),
      [
        'export const A = z.string().min(1);',
        'export const B = deferred(() => z.object({ a: A }));',
        'export const C = B.extend({});',
        "export const D = Object.fromEntries([['a', 1]]);",
        "export const E = ['a', 'b'] as const;",
        'const F = { reason: z.string().min(1), at: B };',
        'export const G = [z.number()];',
        'const H = () => ({ reason: z.string() });',
      ].join('\n'),
    );
    // Act
    const eager = eagerSchemasIn(dir);
    // Assess
    assert.deepEqual(eager, ['x.ts: A', 'x.ts: C', 'x.ts: F', 'x.ts: G']);
  });

  test('a deferred schema is built once, at its first use, and behaves as the schema itself', () => {
    // Prepare
    let builds = 0;
    const Inner = deferred(() => {
      builds++;
      return z.strictObject({ a: z.string().min(1) });
    });
    const Outer = deferred(() => z.object({ inner: Inner, list: z.array(Inner) }));
    const Extended = deferred(() => Inner.extend({ b: z.number() }));
    assert.equal(builds, 0);
    // Act
    const parsed = Outer.parse({ inner: { a: 'x' }, list: [{ a: 'y' }] });
    const refused = Outer.safeParse({ inner: { a: '' }, list: [{ a: 'y', extra: 1 }] });
    // Assess
    assert.deepEqual(parsed, { inner: { a: 'x' }, list: [{ a: 'y' }] });
    assert.equal(refused.success, false);
    assert.deepEqual(refused.error?.issues.map((i) => i.path.join('.')).sort(), [
      'inner.a',
      'list.0',
    ]);
    assert.deepEqual(Extended.parse({ a: 'x', b: 1 }), { a: 'x', b: 1 });
    assert.ok(Inner instanceof z.ZodObject);
    assert.deepEqual(Object.keys(Inner.shape), ['a']);
    assert.deepEqual(
      z.toJSONSchema(Outer),
      z.toJSONSchema(
        z.object({
          inner: z.strictObject({ a: z.string().min(1) }),
          list: z.array(z.strictObject({ a: z.string().min(1) })),
        }),
      ),
    );
    assert.equal(builds, 1);
  });
});
