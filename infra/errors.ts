/*
 * The CDK app's own errors, in one module. They fail a synth, never a step, so they are not in
 * functions/core/errors.ts.
 */

/** `-c stage=…` names no deployable stage. */
export class UnknownStageError extends Error {
  override name = 'UnknownStageError';
}

/** `-c opsrail:synthTime=…` is not an ISO instant. */
export class SynthTimeError extends Error {
  override name = 'SynthTimeError';
}
