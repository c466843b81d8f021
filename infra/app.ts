import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { join } from 'node:path';
import { Stage, stageResourceNames } from '../contracts';
import { directoryPolicySource } from '../functions/adapters/policy-sources';
import { loadPolicy } from '../functions/core/policy';
import { jobRegistry } from '../functions/jobs/registry';
import { UnknownStageError } from './errors';
import { OpsrailStack } from './opsrail-stack';
import { REPO_ROOT } from './paths';

export const DEPLOYABLE_STAGES = ['dev', 'stage', 'prod'] as const;

/** Builds the app for `-c stage=…`; the local stage is for the embedded stack, not for AWS. */
export function buildApp(app: App, options: { policyDir?: string } = {}): OpsrailStack {
  const requested = app.node.tryGetContext('stage') ?? 'dev';
  const stage = Stage.safeParse(requested);
  if (!stage.success || !(DEPLOYABLE_STAGES as readonly string[]).includes(stage.data)) {
    throw new UnknownStageError(
      `unknown stage '${String(requested)}': use -c stage=${DEPLOYABLE_STAGES.join('|')}`,
    );
  }
  // What the functions will load on every cold start, checked here first: an unimplemented enabled
  // job fails the synth.
  const policy = loadPolicy(
    directoryPolicySource(options.policyDir ?? join(REPO_ROOT, 'policy')),
    stage.data,
    jobRegistry(),
  );
  // The checks security reviewers run: AwsSolutions, as a validation plugin that fails the synth.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return new OpsrailStack(app, stageResourceNames(stage.data).stack, {
    policy,
    description: `opsrail ${stage.data}: scheduled operations jobs with idempotent runs and write-once evidence`,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
}
