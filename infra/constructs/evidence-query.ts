import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { CfnNamedQuery, CfnWorkGroup } from 'aws-cdk-lib/aws-athena';
import { CfnDatabase, CfnTable } from 'aws-cdk-lib/aws-glue';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { loadNamedQueries, withTimeZone } from '../../contracts/named-queries';
import { EVIDENCE_TABLES, glueType } from '../../contracts/query-tables';
import { stageResourceNames } from '../../contracts/resource-names';
import type { Evidence } from './evidence';

export interface EvidenceQueryProps {
  stage: string;
  jobIds: string[];
  evidence: Evidence;
  removalPolicy: RemovalPolicy;
  /** The stage's time zone: the days and weeks of job_kpis (docs/observability.md#kpis). */
  timeZone: string;
}

/**
 * Athena over the evidence: a Glue database with one table per evidence kind (partition projection
 * on stage, dt and job_id, so no crawler and no partition maintenance), a workgroup whose settings
 * are enforced (results KMS-encrypted in their own bucket), and the named queries of
 * named-queries.sql, their days and weeks in the stage's time zone.
 */
export class EvidenceQuery extends Construct {
  readonly database: CfnDatabase;
  readonly workGroup: CfnWorkGroup;
  readonly results: Bucket;

  constructor(scope: Construct, id: string, props: EvidenceQueryProps) {
    super(scope, id);
    const databaseName = `opsrail_${props.stage}`;
    this.database = new CfnDatabase(this, 'Database', {
      catalogId: Stack.of(this).account,
      databaseInput: {
        name: databaseName,
        description: `opsrail ${props.stage} evidence (write-once bundles)`,
      },
    });
    const bucket = props.evidence.bucket.bucketName;
    for (const table of EVIDENCE_TABLES) {
      const partitions = table.partitions === 'job' ? ['stage', 'dt', 'job_id'] : ['stage', 'dt'];
      const template =
        table.partitions === 'job'
          ? `s3://${bucket}/stage=\${stage}/dt=\${dt}/job_id=\${job_id}/${table.folder}/`
          : `s3://${bucket}/stage=\${stage}/dt=\${dt}/${table.folder}/`;
      const cfn = new CfnTable(this, `Table-${table.name}`, {
        catalogId: this.database.catalogId,
        databaseName,
        tableInput: {
          name: table.name,
          tableType: 'EXTERNAL_TABLE',
          description: `opsrail evidence: ${table.folder} objects`,
          parameters: {
            classification: 'json',
            'projection.enabled': 'true',
            'projection.stage.type': 'enum',
            'projection.stage.values': props.stage,
            'projection.dt.type': 'date',
            'projection.dt.format': 'yyyy-MM-dd',
            'projection.dt.range': '2024-01-01,NOW',
            'projection.dt.interval': '1',
            'projection.dt.interval.unit': 'DAYS',
            ...(table.partitions === 'job'
              ? {
                  'projection.job_id.type': 'enum',
                  'projection.job_id.values': props.jobIds.join(','),
                }
              : {}),
            'storage.location.template': template,
          },
          partitionKeys: partitions.map((name) => ({ name, type: 'string' })),
          storageDescriptor: {
            location: `s3://${bucket}/stage=${props.stage}/`,
            inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
            outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
            serdeInfo: {
              serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
              parameters: { 'case.insensitive': 'TRUE', 'ignore.malformed.json': 'FALSE' },
            },
            columns: table.columns.map((c) => ({ name: c.name, type: glueType(c.type) })),
          },
        },
      });
      cfn.addDependency(this.database);
    }

    this.results = new Bucket(this, 'Results', {
      encryption: BucketEncryption.KMS,
      encryptionKey: props.evidence.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      serverAccessLogsBucket: props.evidence.accessLogs,
      serverAccessLogsPrefix: 'athena-results/',
      lifecycleRules: [{ expiration: Duration.days(30) }],
      removalPolicy: props.removalPolicy,
    });
    this.workGroup = new CfnWorkGroup(this, 'WorkGroup', {
      name: stageResourceNames(props.stage).athenaWorkGroup,
      description: `opsrail ${props.stage}: queries over the evidence; settings enforced`,
      state: 'ENABLED',
      recursiveDeleteOption: props.removalPolicy !== RemovalPolicy.RETAIN,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        resultConfiguration: {
          outputLocation: `s3://${this.results.bucketName}/`,
          encryptionConfiguration: {
            encryptionOption: 'SSE_KMS',
            kmsKey: props.evidence.key.keyArn,
          },
        },
      },
    });
    for (const query of loadNamedQueries()) {
      const named = new CfnNamedQuery(this, `Query-${query.name}`, {
        name: query.name,
        description: query.description,
        database: databaseName,
        queryString: withTimeZone(query.sql, props.timeZone),
        workGroup: this.workGroup.name,
      });
      named.addDependency(this.workGroup);
    }
  }
}
