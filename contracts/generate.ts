import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderJsonSchemas } from './json-schema';

/** Writes contracts/*.schema.json from the zod contracts. Never edit those files by hand. */
const dir = import.meta.dirname;
for (const [name, text] of Object.entries(renderJsonSchemas())) {
  writeFileSync(join(dir, `${name}.schema.json`), text);
  console.log(`wrote contracts/${name}.schema.json`);
}
