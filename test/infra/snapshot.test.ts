import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'vitest';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';

const DIR = join(import.meta.dirname, '__snapshots__');

/** The template with what changes on every code edit (asset hashes) blanked. */
function normalized(stage: string): string {
  const template = Template.fromStack(buildApp(new App({ context: { stage } }))).toJSON();
  return `${JSON.stringify(template, null, 2).replace(/[a-f0-9]{64}(\.zip|\.json)/g, 'ASSET_HASH$1')}\n`;
}

for (const stage of ['dev', 'stage', 'prod']) {
  test(`${stage}: the template matches its snapshot (asset hashes blanked; UPDATE_SNAPSHOTS=1 npm test after a deliberate change)`, () => {
    const path = join(DIR, `${stage}.template.json`);
    const current = normalized(stage);
    if (process.env.UPDATE_SNAPSHOTS === '1' || !existsSync(path)) writeFileSync(path, current);
    assert.equal(current, readFileSync(path, 'utf8'), `${path} is stale: review the template change, then UPDATE_SNAPSHOTS=1 npm test`);
  });
}
