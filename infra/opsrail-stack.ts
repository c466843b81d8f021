import { Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { ResolvedPolicy } from '../functions/core/policy';
import { OpsrailCore } from './opsrail-core';

export interface OpsrailStackProps extends StackProps {
  policy: ResolvedPolicy;
}

/**
 * This repository's app: one stack per stage holding the construct. Its id is 'Default', which CDK
 * leaves out of logical ids: the resources keep the ids they had when the stack built them itself.
 */
export class OpsrailStack extends Stack {
  readonly ops: OpsrailCore;

  constructor(scope: Construct, id: string, props: OpsrailStackProps) {
    super(scope, id, props);
    Tags.of(this).add('opsrail:stage', props.policy.stage);
    Tags.of(this).add('opsrail:policy-sha256', props.policy.snapshot.sha256);
    this.ops = new OpsrailCore(this, 'Default', { policy: props.policy });
  }

  get storage() {
    return this.ops.storage;
  }
  get evidence() {
    return this.ops.evidence;
  }
  get runner() {
    return this.ops.runner;
  }
  get scheduling() {
    return this.ops.scheduling;
  }
  get query() {
    return this.ops.query;
  }
  get notifications() {
    return this.ops.notifications;
  }
  get approvalEndpoint() {
    return this.ops.approvalEndpoint;
  }
  get slackInteraction() {
    return this.ops.slackInteraction;
  }
  get observability() {
    return this.ops.observability;
  }
}
