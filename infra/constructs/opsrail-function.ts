import { type Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { join } from 'node:path';
import type { FunctionDir, HandlerEnv } from '../../contracts';
import { parseFunctionEnv } from '../../functions/adapters/dependencies';
import { lambdaBundling } from '../bundling';
import { REPO_ROOT } from '../paths';
import { BUNDLE_CONTEXT, jobEntry, lockFileOf, type JobBundle } from '../job-entry';

export interface OpsrailFunctionProps {
  /**
   * Folder under functions/ holding handler.ts; its environment must satisfy
   * FunctionEnv[functionDir].
   */
  functionDir: FunctionDir;
  description: string;
  /** A fixed name, when something finds the function by it (a job's: Preflight names it). */
  functionName?: string;
  environment: HandlerEnv;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
  timeout: Duration;
  memorySize?: number;
}

/**
 * CloudWatch accepts only certain retention values: the smallest one that keeps logs at least as
 * long.
 */
export function retentionFor(days: number): RetentionDays {
  const allowed = Object.values(RetentionDays)
    .filter((v): v is number => typeof v === 'number' && v > 0)
    .sort((a, b) => a - b);
  return (allowed.find((v) => v >= days) ?? RetentionDays.INFINITE) as RetentionDays;
}

/**
 * Every opsrail Lambda: Node.js 24 on arm64, X-Ray tracing, its own log group with the policy's
 * retention, bundled by the local esbuild (no Docker), and an environment that must satisfy its own
 * function's zod schema at synth, so a missing variable fails `cdk synth`, not the first
 * invocation.
 */
export class OpsrailFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: OpsrailFunctionProps) {
    // The same check the handler makes at its first invocation, here at synth.
    const environment = parseFunctionEnv(
      props.functionDir,
      props.environment,
      `${scope.node.path}/${id} (functions/${props.functionDir}) environment`,
    );
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: retentionFor(props.logRetentionDays),
      removalPolicy: props.removalPolicy,
    });
    // Its own role, with no AWS managed policy: it may write its own log group and nothing else
    // until the function's grants (next to it in its construct) add exactly what it uses.
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    logGroup.grantWrite(role);
    // In a user's app (the Opsrail construct), its policy and job modules are bundled in
    // (infra/job-entry.ts).
    const bundle = scope.node.tryGetContext(BUNDLE_CONTEXT) as JobBundle | undefined;
    super(scope, id, {
      role,
      entry: bundle
        ? jobEntry(props.functionDir, bundle)
        : join(REPO_ROOT, 'functions', props.functionDir, 'handler.ts'),
      handler: 'handler',
      projectRoot: bundle ? bundle.projectRoot : REPO_ROOT,
      depsLockFilePath: bundle
        ? lockFileOf(bundle.projectRoot)
        : join(REPO_ROOT, 'package-lock.json'),
      description: props.description,
      ...(props.functionName ? { functionName: props.functionName } : {}),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      tracing: Tracing.ACTIVE,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      logGroup,
      // AWS_REGION is reserved: Lambda sets it itself.
      environment: Object.fromEntries(
        Object.entries(environment).filter(([k, v]) => k !== 'AWS_REGION' && v !== undefined),
      ) as Record<string, string>,
      // One definition (infra/bundling.ts), shared with the local builder the tests run.
      bundling: {
        forceDockerBundling: false,
        format: lambdaBundling.format === 'cjs' ? OutputFormat.CJS : OutputFormat.ESM,
        target: lambdaBundling.target,
        minify: lambdaBundling.minify,
        keepNames: lambdaBundling.keepNames,
        sourceMap: lambdaBundling.sourceMap,
        externalModules: [...lambdaBundling.externalModules],
        // A job module's `import … from 'opsrail'` is this very source, so its errors are the
        // handler's classes.
        ...(bundle
          ? { esbuildArgs: { '--alias:opsrail': join(REPO_ROOT, 'functions/jobs/api.ts') } }
          : {}),
      },
    });
    Validations.of(role).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::<${stackLogicalId(logGroup)}.Arn>:*]`,
        reason:
          'Log streams inside the function’s own log group: their names are made by Lambda at run time.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) supports no resource-level permissions.',
      },
    );
  }
}

/** The logical id cdk-nag prints for a resource in a finding. */
export function stackLogicalId(construct: Construct): string {
  const resource = construct.node.defaultChild as import('aws-cdk-lib').CfnElement;
  return Stack.of(construct).getLogicalId(resource);
}
