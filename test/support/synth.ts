import { App } from 'aws-cdk-lib';

/**
 * An App for the infra tests that read the template (IAM, resources, the snapshot, cdk-nag): CDK's
 * own `aws:cdk:bundling-stacks` context, empty, skips esbuild bundling of the Lambda assets (about
 * 8 s a synth). The bundles themselves are built and checked where they matter:
 * test/infra/bundles.test.ts and test/infra/user-app.test.ts (docs/testing.md#projects).
 */
export function templateApp(context: Record<string, unknown> = {}, outdir?: string): App {
  return new App({
    ...(outdir ? { outdir } : {}),
    context: { ...context, 'aws:cdk:bundling-stacks': [] },
  });
}
