#!/usr/bin/env node
// The opsrail CLI. npm puts node_modules/.bin first on the PATH, so this runs on the project's Node 24.
import { register } from 'tsx/esm/api';

const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  console.error(`opsrail needs Node >= 22 (this is ${process.version}); run it through npm (npx opsrail, npm start), which uses the project's Node 24.`);
  process.exit(2);
}
register();
const { main } = await import('../main.ts');
process.exitCode = await main(process.argv.slice(2));
