import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { Tags } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Stage } from '../contracts';
import { directoryPolicySource } from '../functions/adapters/policy-sources';
import { loadPolicy, type ResolvedPolicy } from '../functions/core/policy';
import { catalogModules, jobsDirFor } from '../functions/jobs/modules';
import { jobRegistry } from '../functions/jobs/registry';
import { BUNDLE_CONTEXT, type JobBundle } from './job-entry';
import { OpsrailCore } from './opsrail-core';

export interface OpsrailProps {
  /** The deployed stage: its policy is `<policyDir>/<stage>.json`. */
  stage: 'dev' | 'stage' | 'prod';
  /** The user's policy directory (catalog.json and the stage files). */
  policyDir: string;
  /** The job modules' directory; default `jobs/` beside the policy directory. */
  jobsDir?: string;
  /** The project whose lock file pins the bundles' dependencies; default the working directory. */
  projectRoot?: string;
}

/**
 * opsrail in a user's own CDK app (README "Deploying from your own app"): the stage's policy is
 * loaded and checked here (a catalog job without implementation fails the synth), then the policy
 * files and the job modules are bundled into the functions.
 */
export class Opsrail extends Construct {
  readonly policy: ResolvedPolicy;
  readonly core: OpsrailCore;

  constructor(scope: Construct, id: string, props: OpsrailProps) {
    super(scope, id);
    const stage = Stage.parse(props.stage);
    const policyDir = resolve(props.policyDir);
    const jobsDir = props.jobsDir ? resolve(props.jobsDir) : jobsDirFor(policyDir, '');
    const modules = catalogModules(policyDir, jobsDir).filter((m) => existsSync(m.file));
    const builtins = jobRegistry();
    const moduleIds = new Set(modules.map((m) => m.jobId));
    // Module params are checked where the module is loaded (opsrail jobs, the functions' cold
    // start).
    this.policy = loadPolicy(directoryPolicySource(policyDir), stage, {
      has: (jobId) => builtins.has(jobId) || moduleIds.has(jobId),
    });
    const policyFiles = Object.fromEntries(
      ['catalog.json', `${stage}.json`].map((f) => [
        f,
        JSON.parse(readFileSync(join(policyDir, f), 'utf8')),
      ]),
    );
    const bundle: JobBundle = {
      policyFiles,
      modules,
      projectRoot: resolve(props.projectRoot ?? process.cwd()),
    };
    this.node.setContext(BUNDLE_CONTEXT, bundle);
    Tags.of(this).add('opsrail:stage', stage);
    Tags.of(this).add('opsrail:policy-sha256', this.policy.snapshot.sha256);
    this.core = new OpsrailCore(this, 'Default', { policy: this.policy });
  }
}
