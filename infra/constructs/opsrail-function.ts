import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { join } from 'node:path';
import { HandlerEnv } from '../../contracts';
import { REPO_ROOT } from '../paths';

export interface OpsrailFunctionProps {
  /** Folder under functions/ holding handler.ts. */
  functionDir: string;
  description: string;
  environment: HandlerEnv;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
  timeout: Duration;
  memorySize?: number;
}

/** CloudWatch accepts only certain retention values: the smallest one that keeps logs at least as long. */
export function retentionFor(days: number): RetentionDays {
  const allowed = Object.values(RetentionDays).filter((v): v is number => typeof v === 'number' && v > 0).sort((a, b) => a - b);
  return (allowed.find((v) => v >= days) ?? RetentionDays.INFINITE) as RetentionDays;
}

/**
 * Every opsrail Lambda: Node.js 24 on arm64, X-Ray tracing, its own log group with the policy's
 * retention, bundled by the local esbuild (no Docker), and an environment that must satisfy the
 * handlers' zod schema at synth, so a missing variable fails `cdk synth`, not the first invocation.
 */
export class OpsrailFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: OpsrailFunctionProps) {
    const environment = HandlerEnv.parse(props.environment);
    const logGroup = new LogGroup(scope, `${id}Logs`, { retention: retentionFor(props.logRetentionDays), removalPolicy: props.removalPolicy });
    super(scope, id, {
      entry: join(REPO_ROOT, 'functions', props.functionDir, 'handler.ts'),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      tracing: Tracing.ACTIVE,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      logGroup,
      // AWS_REGION is reserved: Lambda sets it itself.
      environment: Object.fromEntries(Object.entries(environment).filter(([k, v]) => k !== 'AWS_REGION' && v !== undefined)) as Record<string, string>,
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.CJS,
        target: 'node24',
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // The Node.js 24 runtime ships AWS SDK v3, but bundling pins the exact version the tests ran.
        externalModules: [],
      },
    });
  }
}
