import { z } from 'zod';

/** Parameters of the built-in jobs, validated when the policy loads so a typo fails at load, not at 3 a.m. */
export const EvidenceIntegrityCheckParams = z.strictObject({
  /** How many of the most recent bundles of each job to re-verify. */
  bundlesPerJob: z.number().int().min(1).max(1000).default(5),
});

export const builtinJobParams: Record<string, z.ZodType> = {
  evidence_integrity_check: EvidenceIntegrityCheckParams,
};
