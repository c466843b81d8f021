import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectLockRetention, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { StagePolicy } from '../../contracts';

export interface EvidenceProps {
  stage: string;
  retention: StagePolicy['retention'];
  removalPolicy: RemovalPolicy;
}

/**
 * The evidence bucket: Object Lock with a default retention from policy (GOVERNANCE or COMPLIANCE),
 * versioned, KMS-encrypted, TLS only, no public access. Its access logs go to a separate bucket, since
 * an Object Lock bucket cannot be a log target.
 */
export class Evidence extends Construct {
  readonly bucket: Bucket;
  readonly key: Key;
  readonly accessLogs: Bucket;

  constructor(scope: Construct, id: string, props: EvidenceProps) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      description: `opsrail ${props.stage} evidence encryption`,
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
    });
    this.accessLogs = new Bucket(this, 'AccessLogs', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
      versioned: true,
      lifecycleRules: [{ expiration: Duration.days(props.retention.logDays) }],
      removalPolicy: props.removalPolicy,
    });
    const retentionDays = Duration.days(props.retention.evidenceDays);
    this.bucket = new Bucket(this, 'Bucket', {
      objectLockEnabled: true,
      objectLockDefaultRetention:
        props.retention.objectLockMode === 'COMPLIANCE' ? ObjectLockRetention.compliance(retentionDays) : ObjectLockRetention.governance(retentionDays),
      versioned: true,
      encryption: BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'evidence/',
      lifecycleRules: [{ noncurrentVersionExpiration: retentionDays }],
      removalPolicy: props.removalPolicy,
    });
  }
}
