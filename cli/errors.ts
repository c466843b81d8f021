/*
 * The CLI's own errors, in one module. Only the CLI throws or catches them (they map to its exit codes,
 * never to a state machine's error names), so they are not in functions/core/errors.ts.
 */

/** Bad command line: exit code 2 with the usage text. */
export class UsageError extends Error {
  override name = 'UsageError';
}
