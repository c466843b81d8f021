import * as z from 'zod';
import { publishedContracts } from './index';

/** name → JSON Schema text, exactly as written to disk (the drift test compares against this). */
export function renderJsonSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, schema] of Object.entries(publishedContracts)) {
    const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
    out[name] =
      `${JSON.stringify({ $id: `https://opsrail.dev/contracts/${name}.schema.json`, title: name, ...json }, null, 2)}\n`;
  }
  return out;
}
