#!/usr/bin/env node
// The opsrail CLI. npm puts node_modules/.bin first on the PATH, so this runs on the project's Node 24.
import { existsSync } from 'node:fs';

const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  console.error(
    `opsrail needs Node >= 22 (this is ${process.version}); run it through npm (npx opsrail, npm start), which uses the project's Node 24.`,
  );
  process.exit(2);
}
// In this repository the TypeScript sources run through tsx; the installed package (no cli/*.ts) runs
// its built dist/ (npm run build) with no loader at all.
let main;
if (existsSync(new URL('../main.ts', import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../main.ts'));
} else {
  ({ main } = await import('../../dist/cli.js'));
}
process.exitCode = await main(process.argv.slice(2));
