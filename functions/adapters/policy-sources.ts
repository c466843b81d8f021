import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { PolicySource } from '../core/policy';
import catalog from '../../policy/catalog.json' with { type: 'json' };
import local from '../../policy/local.json' with { type: 'json' };
import dev from '../../policy/dev.json' with { type: 'json' };
import stage from '../../policy/stage.json' with { type: 'json' };
import prod from '../../policy/prod.json' with { type: 'json' };
import { bundledConfig } from './bundle-config';

/** policy/ as it is on disk: the CLI, the local stack and CDK read this one. */
export function directoryPolicySource(dir: string): PolicySource {
  return {
    read: (fileName) => {
      const path = join(dir, fileName);
      return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    },
    describe: (fileName) => {
      const rel = relative(process.cwd(), join(dir, fileName));
      return rel.startsWith('..') ? join(dir, fileName) : rel;
    },
  };
}

const bundled: Record<string, unknown> = {
  'catalog.json': catalog,
  'local.json': local,
  'dev.json': dev,
  'stage.json': stage,
  'prod.json': prod,
};

/**
 * policy/ as bundled into a Lambda at deploy time: validated the same way, on every cold start. The
 * construct's generated entry bundles the user's policy directory; a function built straight from
 * its handler (the local bundled mode) carries opsrail's own policy/.
 */
export const bundledPolicySource: PolicySource = {
  read: (fileName) => {
    const files = bundledConfig().policyFiles ?? bundled;
    return fileName in files ? JSON.stringify(files[fileName]) : undefined;
  },
  describe: (fileName) => `policy/${fileName} (bundled)`,
};
