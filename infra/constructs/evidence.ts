import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { PolicyStatement, type IGrantable, type IRole } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  ObjectLockRetention,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { StagePolicy } from '../../contracts';
import { stackLogicalId } from './opsrail-function';

export interface EvidenceProps {
  stage: string;
  retention: StagePolicy['retention'];
  removalPolicy: RemovalPolicy;
}

/**
 * The evidence bucket: Object Lock with a default retention from policy (GOVERNANCE or COMPLIANCE),
 * versioned, KMS-encrypted, TLS only, no public access. Its access logs go to a separate bucket,
 * since an Object Lock bucket cannot be a log target.
 */
export class Evidence extends Construct {
  readonly bucket: Bucket;
  readonly key: Key;
  readonly accessLogs: Bucket;
  private readonly stage: string;

  constructor(scope: Construct, id: string, props: EvidenceProps) {
    super(scope, id);
    this.stage = props.stage;
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
        props.retention.objectLockMode === 'COMPLIANCE'
          ? ObjectLockRetention.compliance(retentionDays)
          : ObjectLockRetention.governance(retentionDays),
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

  /** The stage's objects: key names are made per run, so object access is by prefix. */
  private objectsArn(): string {
    return `${this.bucket.bucketArn}/stage=${this.stage}/*`;
  }

  private acknowledgeObjectPrefix(grantee: IGrantable): void {
    const role = grantee.grantPrincipal as IRole;
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${stackLogicalId(this.bucket)}.Arn>/stage=${this.stage}/*]`,
      reason: `Evidence objects are named per run under stage=${this.stage}/: access is scoped to that prefix of this one bucket.`,
    });
  }

  /**
   * PutObject (never delete, never overwrite: If-None-Match and Object Lock) with the KMS data key
   * to encrypt, and GetObject with Decrypt: a write-once PUT that meets an object already there
   * reads it back to tell a retry of the same bytes from a conflict (docs/evidence.md#write-once),
   * which is what a Finalize retried after a crash meets.
   */
  grantWriteObjects(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject'],
        resources: [this.objectsArn()],
      }),
    );
    this.key.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
    this.acknowledgeObjectPrefix(grantee);
  }

  /**
   * PutObject under the stage's `exports/` prefix only, with the KMS data key (dataset_export, whose
   * catalog entry writes `exports`): it may add exports and nothing to any run's bundle
   * (docs/exports.md#permissions). Reading, for the write-once comparison, is grantReadObjects.
   */
  grantWriteExports(grantee: IGrantable): void {
    const exportsArn = `${this.bucket.bucketArn}/stage=${this.stage}/exports/*`;
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:PutObject'], resources: [exportsArn] }),
    );
    this.key.grant(grantee, 'kms:GenerateDataKey');
    Validations.of(grantee.grantPrincipal as IRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${stackLogicalId(this.bucket)}.Arn>/stage=${this.stage}/exports/*]`,
      reason: `Export files are named per dataset and sequence under stage=${this.stage}/exports/: writes are scoped to that prefix of this one bucket.`,
    });
  }

  /**
   * GetObject of the stage's evidence with Decrypt, and ListBucket of this stage's own bucket: the
   * readers list keys (EvidenceReader.list), and without ListBucket S3 answers a missing key with
   * 403 instead of 404, so "no such object" would fail as a PermissionError in AWS while it is a
   * finding locally.
   */
  grantReadObjects(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:GetObject'], resources: [this.objectsArn()] }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    );
    this.key.grant(grantee, 'kms:Decrypt');
    this.acknowledgeObjectPrefix(grantee);
  }
}
