import { type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { stageResourceNames } from '../../contracts/resource-names';

export interface NotificationsProps {
  stage: string;
  emails: string[];
  removalPolicy: RemovalPolicy;
}

/**
 * Where people hear from opsrail: an SNS topic (KMS-encrypted, TLS-only publishing) with the
 * policy's e-mail recipients, and the two secrets the approval gate uses, referenced only by ARN
 * (secret_ref): the Slack incoming-webhook URL and the key that signs approval links.
 */
export class Notifications extends Construct {
  readonly topic: Topic;
  readonly key: Key;
  readonly slackWebhook: Secret;
  readonly approvalSigningKey: Secret;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      description: `opsrail ${props.stage} notifications`,
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
    });
    // CloudWatch alarms publish to an encrypted topic only if they may use its key.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new Topic(this, 'Alerts', {
      topicName: stageResourceNames(props.stage).alertsTopic,
      displayName: `opsrail ${props.stage}`,
      masterKey: this.key,
      enforceSSL: true,
    });
    for (const email of props.emails) this.topic.addSubscription(new EmailSubscription(email));

    this.slackWebhook = new Secret(this, 'SlackWebhook', {
      secretName: `opsrail/${props.stage}/slack-webhook`,
      description:
        'Slack incoming-webhook URL for approval requests: replace the generated value with the URL Slack gives you',
      removalPolicy: props.removalPolicy,
    });
    this.approvalSigningKey = new Secret(this, 'ApprovalSigningKey', {
      secretName: `opsrail/${props.stage}/approval-signing-key`,
      description: 'HMAC key that signs approval links',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.slackWebhook).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'A Slack webhook URL is issued and revoked in Slack; Secrets Manager cannot rotate it.',
    });
    Validations.of(this.approvalSigningKey).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Rotating the link-signing key invalidates every pending approval link; it is rotated by hand between approvals.',
    });
  }
}
