import type { JobImplementation } from '../jobs/types';

/**
 * What a deployed function was built with, set by the entry the construct generates
 * (infra/job-entry.ts) before the first invocation: the user's policy files and the job modules
 * bundled into this function.
 */
interface BundleConfig {
  policyFiles?: Record<string, unknown>;
  jobs: readonly JobImplementation[];
}

let config: BundleConfig = { jobs: [] };

export function configureBundle(next: BundleConfig): void {
  config = next;
}

export const bundledConfig = (): BundleConfig => config;
