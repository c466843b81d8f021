import { deferred } from './deferred';
import * as z from 'zod';
import { Quality } from './common';
import { JobOutput, RunContext } from './execution';
import { Diagnostic } from './run-record';

/** The contract version a `lambda` job's function is called with; a function checks it says 1. */
export const LAMBDA_JOB_CONTRACT_VERSION = 1;

/**
 * What opsrail sends the function of a `lambda` job (docs/writing-a-job.md#lambda-jobs): the pinned
 * run context (window, inputs, params) and the idempotency key, which is the run's id: a retried or
 * repeated call of the same run carries the same key, and the function must do its effect once per
 * key.
 */
export const LambdaJobRequest = deferred(() =>
  z.strictObject({
    contractVersion: z.literal(LAMBDA_JOB_CONTRACT_VERSION),
    idempotencyKey: z.string().min(1),
    run: RunContext,
  }),
);
export type LambdaJobRequest = z.infer<typeof LambdaJobRequest>;

/** What the function must answer: anything else fails the run (validation, not retried). */
export const LambdaJobAnswer = deferred(() =>
  z.strictObject({
    quality: Quality,
    outputs: z.array(JobOutput).default([]),
    diagnostics: z.array(Diagnostic).default([]),
  }),
);
export type LambdaJobAnswer = z.infer<typeof LambdaJobAnswer>;
