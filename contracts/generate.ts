import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderJsonSchemas } from './json-schema';
import { renderHandlerDocs } from './handler-docs';

/** Writes contracts/*.schema.json from the zod contracts. Never edit those files by hand. */
const dir = import.meta.dirname;
for (const [name, text] of Object.entries(renderJsonSchemas())) {
  writeFileSync(join(dir, `${name}.schema.json`), text);
  console.log(`wrote contracts/${name}.schema.json`);
}
// What each handler accepts, from the same contracts.
mkdirSync(join(dir, '..', 'docs'), { recursive: true });
writeFileSync(join(dir, '..', 'docs', 'handlers.md'), renderHandlerDocs());
console.log('wrote docs/handlers.md');
