import { type Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { stageResourceNames } from '../../contracts/resource-names';
import { ValidationError } from '../../functions/core/errors';
import {
  DatasetExportParams,
  type HandlerEnv,
  type JobDefinition,
  type NotificationSettings,
} from '../../contracts';
import type { Evidence } from './evidence';
import { OpsrailFunction } from './opsrail-function';
import type { StateStorage } from './state-storage';

export interface JobFunctionsProps {
  stage: string;
  /** Every job of the stage, enabled or not (an operator may run a disabled one by hand). */
  jobs: readonly JobDefinition[];
  environment: HandlerEnv;
  timeout: Duration;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
  storage: StateStorage;
  evidence: Evidence;
  /** The stage's notification chain: every job may notify, so each may read its secrets. */
  notifications: NotificationSettings;
}

/**
 * One function per job, each running opsrail's Execute step with a role of its own: opsrail's
 * bookkeeping plus exactly what the job declared (docs/writing-a-job.md#permissions). The Execute
 * state invokes the one Preflight names for the run (stageResourceNames(stage).jobFunction).
 */
export class JobFunctions extends Construct {
  /** Job id → its function. */
  readonly byJob: ReadonlyMap<string, OpsrailFunction>;

  constructor(scope: Construct, id: string, props: JobFunctionsProps) {
    super(scope, id);
    const names = stageResourceNames(props.stage);
    const byJob = new Map<string, OpsrailFunction>();
    const ids = new Map<string, string>();
    for (const job of props.jobs) {
      const id = constructIdOf(job.jobId);
      const other = ids.get(id);
      if (other)
        throw new ValidationError('catalog.json', [
          {
            path: 'jobs',
            message: `jobs '${other}' and '${job.jobId}' differ only in underscores: their functions would share the construct id ${id}; rename one`,
          },
        ]);
      ids.set(id, job.jobId);
      const fn = new OpsrailFunction(this, id, {
        functionDir: 'execute',
        functionName: names.jobFunction(job.jobId),
        description: `opsrail job ${job.jobId}: runs the job once per run, with its own permissions`,
        timeout: props.timeout,
        environment: props.environment,
        logRetentionDays: props.logRetentionDays,
        removalPolicy: props.removalPolicy,
      });
      grantJobPermissions(fn, job, props);
      grantNotificationSecrets(fn, props.notifications);
      byJob.set(job.jobId, fn);
    }
    this.byJob = byJob;
  }
}

/** evidence_integrity_check → EvidenceIntegrityCheck. */
function constructIdOf(jobId: string): string {
  return jobId
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/**
 * What a job's function may do, from its catalog entry and nothing else
 * (docs/writing-a-job.md#permissions).
 */
function grantJobPermissions(
  fn: OpsrailFunction,
  job: JobDefinition,
  { storage, evidence }: Pick<JobFunctionsProps, 'storage' | 'evidence'>,
): void {
  // opsrail's bookkeeping, the same for every job: the run's claim and attempts in the state table,
  // Powertools' idempotency record. Declaring `state` therefore adds nothing.
  storage.stateTable.grantReadWriteData(fn);
  storage.idempotencyTable.grantReadWriteData(fn);
  const { reads, writes } = job.capabilities;
  // Writing evidence implies reading it (the write-once comparison, and what a writer checks).
  if (reads.includes('evidence') || writes.includes('evidence') || writes.includes('exports'))
    evidence.grantReadObjects(fn);
  if (writes.includes('evidence')) evidence.grantWriteObjects(fn);
  else if (writes.includes('exports')) evidence.grantWriteExports(fn);
  grantExportCopy(fn, job);
  const implementation = job.implementation;
  if (implementation?.kind === 'lambda')
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [implementation.functionArn],
      }),
    );
  if (implementation?.kind === 'http') {
    const secrets = [...new Set(Object.values(implementation.secrets))].sort();
    if (secrets.length > 0)
      fn.addToRolePolicy(
        new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secrets }),
      );
  }
  // A built-in job's params name secrets as { "secret_ref": ARN } (the latency monitor's headers, a
  // webhook's signing key): its function may read exactly those.
  const paramSecrets = secretRefsIn(job.params);
  if (paramSecrets.length > 0)
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: paramSecrets }),
    );
  for (const statement of job.iam ?? []) {
    fn.addToRolePolicy(
      new PolicyStatement({ actions: statement.actions, resources: statement.resources }),
    );
    // A wildcard the job declared carries its reason (required by the catalog contract); it is
    // acknowledged on this job's role alone.
    const role = fn.role as IRole;
    for (const action of statement.actions.filter((a) => a.includes('*')))
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Action::${action}]`,
        reason: `Declared by job ${job.jobId} in the catalog: ${statement.reason}`,
      });
    for (const resource of statement.resources.filter((r) => r.includes('*')))
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason: `Declared by job ${job.jobId} in the catalog: ${statement.reason}`,
      });
  }
}

/** The secret_refs the stage's notification chain reads (Slack webhook URL, GitHub token), sorted. */
export function notificationSecretRefs(settings: NotificationSettings): string[] {
  const refs = [settings.slack?.webhookSecretRef, settings.github?.tokenSecretRef];
  return [...new Set(refs.filter((ref): ref is string => !!ref))].sort();
}

/**
 * A function that notifies (docs/notifications.md) reads exactly the chain's secrets, nothing else;
 * none without a configured channel.
 */
export function grantNotificationSecrets(
  fn: OpsrailFunction,
  settings: NotificationSettings,
): void {
  const refs = notificationSecretRefs(settings);
  if (refs.length > 0)
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: refs }),
    );
}

/** Every `{ "secret_ref": "<ARN>" }` value anywhere in a job's params, sorted, once each. */
export function secretRefsIn(params: unknown): string[] {
  const found = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object')
      for (const [key, inner] of Object.entries(value))
        if (key === 'secret_ref' && typeof inner === 'string') found.add(inner);
        else walk(inner);
  };
  walk(params);
  return [...found].sort();
}

/**
 * dataset_export's optional copy (params.copy): PutObject under the user's `<bucket>/<prefix>` and
 * nowhere else (docs/exports.md#copy). Nothing without a copy.
 */
function grantExportCopy(fn: OpsrailFunction, job: JobDefinition): void {
  if (job.jobId !== 'dataset_export') return;
  const copy = DatasetExportParams.safeParse(job.params).data?.copy;
  if (!copy) return;
  const resource = `arn:aws:s3:::${copy.bucket}/${copy.prefix}*`;
  fn.addToRolePolicy(new PolicyStatement({ actions: ['s3:PutObject'], resources: [resource] }));
  Validations.of(fn.role as IRole).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${resource}]`,
    reason: `dataset_export copies its files under ${copy.prefix || 'the root of'} s3://${copy.bucket}/ (params.copy), named per dataset and sequence.`,
  });
}
