import { join } from 'node:path';
import { expect, test } from 'vitest';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';
import { templateApp } from '../support/synth';

const DIR = join(import.meta.dirname, '__snapshots__');

/** The template with what changes on every code edit (asset hashes) blanked. */
function normalized(stage: string): string {
  const template = Template.fromStack(buildApp(templateApp({ stage }))).toJSON();
  return `${JSON.stringify(template, null, 2).replace(/[a-f0-9]{64}(\.zip|\.json)/g, 'ASSET_HASH$1')}\n`;
}

// Readable JSON files, one per stage; after a deliberate template change, review the diff and
// refresh them with `npm test -- snapshot -u` (docs/testing.md). A missing file is written on a
// local run and fails under CI.
for (const stage of ['dev', 'stage', 'prod']) {
  test(`${stage}: the template matches its snapshot (asset hashes blanked; npm test -- snapshot -u after a deliberate change)`, async () => {
    await expect(normalized(stage)).toMatchFileSnapshot(join(DIR, `${stage}.template.json`));
  });
}
