import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { loadNamedQueries, withTimeZone } from '../../contracts/named-queries';
import { EVIDENCE_TABLES } from '../../contracts/query-tables';
import { buildApp } from '../../infra/app';
import { templateApp } from '../support/synth';
import { directoryPolicySource } from '../../functions/adapters/policy-sources';
import { loadPolicy } from '../../functions/core/policy';
import { DEFAULT_POLICY_DIR } from '../../local/stack';

const synth = (stage: string) => Template.fromStack(buildApp(templateApp({ stage })));

describe('Athena over the evidence, per stage', () => {
  const dev = synth('dev');

  test('one Glue table per evidence kind, partition projection on stage, dt and job_id, reading its own folder', () => {
    const tables = Object.values(dev.findResources('AWS::Glue::Table')) as any[];
    assert.deepEqual(
      tables.map((t) => t.Properties.TableInput.Name).sort(),
      EVIDENCE_TABLES.map((t) => t.name).sort(),
    );
    const audit = tables.find((t) => t.Properties.TableInput.Name === 'audit_events').Properties
      .TableInput;
    assert.equal(audit.Parameters['projection.enabled'], 'true');
    assert.equal(audit.Parameters['projection.stage.values'], 'dev');
    assert.equal(audit.Parameters['projection.dt.type'], 'date');
    assert.deepEqual(
      audit.Parameters['projection.job_id.values'].split(',').sort(),
      loadPolicy(directoryPolicySource(DEFAULT_POLICY_DIR), 'dev')
        .jobs.map((j) => j.jobId)
        .sort(),
    );
    assert.match(
      JSON.stringify(audit.Parameters['storage.location.template']),
      /stage=\$\{stage\}\/dt=\$\{dt\}\/job_id=\$\{job_id\}\/audit\//,
    );
    assert.deepEqual(
      audit.PartitionKeys.map((p: { Name: string }) => p.Name),
      ['stage', 'dt', 'job_id'],
    );
    assert.equal(
      audit.StorageDescriptor.SerdeInfo.SerializationLibrary,
      'org.openx.data.jsonserde.JsonSerDe',
    );
    const runRecords = tables.find((t) => t.Properties.TableInput.Name === 'run_records').Properties
      .TableInput;
    assert.ok(
      runRecords.StorageDescriptor.Columns.some(
        (c: { Name: string; Type: string }) => c.Name === 'duration_ms' && c.Type === 'bigint',
      ),
    );
  });

  test('the workgroup enforces its configuration and encrypts results with KMS, in a bucket of their own', () => {
    dev.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'opsrail-dev',
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        ResultConfiguration: {
          EncryptionConfiguration: { EncryptionOption: 'SSE_KMS', KmsKey: Match.anyValue() },
          OutputLocation: Match.anyValue(),
        },
      },
    });
  });

  test('the named queries are exactly those of named-queries.sql', () => {
    const queries = Object.values(dev.findResources('AWS::Athena::NamedQuery')) as any[];
    const fromFile = loadNamedQueries();
    assert.deepEqual(
      queries.map((q) => q.Properties.Name).sort(),
      fromFile.map((q) => q.name).sort(),
    );
    // Each as written, its days and weeks (job_kpis) in the stage's time zone (Asia/Tokyo).
    for (const q of fromFile)
      assert.equal(
        queries.find((n) => n.Properties.Name === q.name).Properties.QueryString,
        withTimeZone(q.sql, 'Asia/Tokyo'),
      );
    const kpis = queries.find((n) => n.Properties.Name === 'job_kpis').Properties.QueryString;
    assert.match(kpis, /AT TIME ZONE 'Asia\/Tokyo'/);
  });

  test('bucket retention per stage: GOVERNANCE in dev and stage, COMPLIANCE in prod, days from policy', () => {
    for (const [stage, mode, days] of [
      ['dev', 'GOVERNANCE', 30],
      ['stage', 'GOVERNANCE', 90],
      ['prod', 'COMPLIANCE', 400],
    ] as const) {
      (stage === 'dev' ? dev : synth(stage)).hasResourceProperties('AWS::S3::Bucket', {
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: mode, Days: days } },
        },
      });
    }
  });
});
