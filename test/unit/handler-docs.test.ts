import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'vitest';
import { HANDLER_EVENTS, renderHandlerDocs } from '../../contracts/handler-docs';
import { REPO_ROOT } from '../../local/stack';

test('docs/handlers.md is generated from the handlers’ contracts (npm run contracts) and is current', () => {
  assert.equal(readFileSync(join(REPO_ROOT, 'docs', 'handlers.md'), 'utf8'), renderHandlerDocs());
});

test('every step handler but the approval endpoint is documented with its contract', () => {
  const documented = HANDLER_EVENTS.map((h) => h.handler).sort();
  const steps = [
    'execute',
    'execution-ended',
    'finalize',
    'preflight',
    'record-failure',
    'request-approval',
  ].map((d) => `functions/${d}`);
  assert.deepEqual(documented, steps);
  for (const { handler, contract } of HANDLER_EVENTS) {
    const source = readFileSync(join(REPO_ROOT, handler, 'handler.ts'), 'utf8');
    assert.match(
      source,
      new RegExp(`parseEvent\\(${contract}, event,`),
      `${handler} parses its event with ${contract}`,
    );
  }
});
