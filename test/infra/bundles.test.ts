import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'vitest';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../../infra/app';
import { BUNDLE_FILE } from '../../infra/bundling';
import { buildBundle } from '../../local/bundles';
import { jobRunSteps, jobRunTemplate, statesInvoking, substitute } from '../../statemachines/definition';
import { LAMBDA_MAX_TIMEOUT_SECONDS, stateTimeoutsOf } from '../../statemachines/timeouts';

type Resource = { Type: string; Properties: Record<string, any>; Metadata?: Record<string, string> };

/** The synthesized dev stack, with its assets on disk (cdk.out layout) and their paths in the metadata. */
function synthesized() {
  const outdir = mkdtempSync(join(tmpdir(), 'opsrail-cdk-out-'));
  const app = new App({ outdir, context: { stage: 'dev', 'aws:cdk:enable-asset-metadata': true } });
  const stack = buildApp(app);
  const template = app.synth().getStackByName(stack.stackName).template as { Resources: Record<string, Resource> };
  const fn = (logicalPrefix: string) => {
    const found = Object.entries(template.Resources).filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && new RegExp(`^${logicalPrefix}[0-9A-F]{8}$`).test(id));
    assert.equal(found.length, 1, logicalPrefix);
    return { id: found[0]![0], ...found[0]![1] };
  };
  const machine = Object.values(template.Resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine')!;
  return { outdir, template, fn, machine };
}

describe('what ships: the synthesized template and assets', () => {
  const { outdir, fn, machine } = synthesized();

  test('the synthesized Preflight asset throws DuplicateRunError by name, byte for byte the bundle the local runtime runs', () => {
    const preflight = fn('RunnerPreflight');
    const asset = join(outdir, preflight.Metadata!['aws:asset:path']!, BUNDLE_FILE);
    const shipped = readFileSync(asset);
    assert.ok(shipped.toString('utf8').split('DuplicateRunError').length - 1 > 0, `grep -c DuplicateRunError ${asset} > 0`);
    const local = readFileSync(buildBundle('preflight', mkdtempSync(join(tmpdir(), 'opsrail-bundles-'))));
    assert.ok(shipped.equals(local), 'CDK and local/bundles.ts build the same bytes from infra/bundling.ts');
  });

  test('every step function outlives each state that invokes it, in the template as synthesized', () => {
    const body = machine.Properties.DefinitionString as string;
    const substitutions = machine.Properties.DefinitionSubstitutions as Record<string, unknown>;
    const numbers = Object.fromEntries(Object.entries(substitutions).map(([k, v]) => [k, typeof v === 'string' ? v : k]));
    const states = stateTimeoutsOf(JSON.parse(substitute(body.replace(/"\$\{([A-Za-z0-9_]+)\}"/g, '"$1"'), numbers)));
    const invokers = statesInvoking(jobRunTemplate(body));
    for (const step of jobRunSteps) {
      const timeout = fn(`Runner${step.state}`).Properties.Timeout as number;
      assert.ok(timeout <= LAMBDA_MAX_TIMEOUT_SECONDS);
      // RequestApproval's state waits for a human (approvals.timeoutSeconds); its invocation does not.
      if (step.functionDir === 'request-approval') continue;
      for (const state of invokers[step.functionDir]) assert.ok(timeout > (states[state] as number), `${step.state} function ${timeout}s > ${state} ${states[state]}s`);
    }
  });
});
