import type * as z from 'zod';
import { validationErrorOf } from './errors';

/**
 * Parses a step's event; a malformed one fails with the field named, before anything is written.
 */
export function parseEvent<T extends z.ZodType>(
  schema: T,
  event: unknown,
  what: string,
): z.infer<T> {
  const parsed = schema.safeParse(event);
  if (!parsed.success) throw validationErrorOf(what, parsed.error);
  return parsed.data;
}
