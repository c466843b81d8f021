import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';
import { maximumEventAgeSeconds } from '../../infra/constructs/job-scheduling';
import { policyFixture } from '../support/local';
import { templateApp } from '../support/synth';

/**
 * The catch-up window and the overlap wait in AWS come from the same policy values the local
 * stack uses (docs/scheduling.md#catch-up, #overlap).
 */
describe('scheduling from policy in the synthesized stack', () => {
  // Prepare: dev with a catch-up window of 25 minutes and a 15 s overlap poll.
  const policyDir = policyFixture({
    'dev.json': (p) => ({
      ...p,
      scheduler: { ...p.scheduler, catchUpMinutes: 25, bufferPollSeconds: 15 },
    }),
  });
  const dev = Template.fromStack(buildApp(templateApp({ stage: 'dev' }), { policyDir }));

  test('every schedule keeps a tick for at most the catch-up window: MaximumEventAgeInSeconds = scheduler.catchUpMinutes × 60', () => {
    // Act
    const schedules = Object.values(dev.findResources('AWS::Scheduler::Schedule')) as any[];

    // Assess
    assert.ok(schedules.length >= 1, 'dev enables jobs');
    for (const schedule of schedules)
      assert.equal(schedule.Properties.Target.RetryPolicy.MaximumEventAgeInSeconds, 25 * 60);
    // AWS's own range is the policy's: 1 minute to 24 hours.
    assert.deepEqual(
      [
        maximumEventAgeSeconds({ catchUpMinutes: 1 }),
        maximumEventAgeSeconds({ catchUpMinutes: 1440 }),
      ],
      [60, 86_400],
    );
  });

  test('the buffered tick waits scheduler.bufferPollSeconds between its Preflights (WaitForOpenRun)', () => {
    // Act
    const [machine] = Object.values(dev.findResources('AWS::StepFunctions::StateMachine')) as any[];
    const definition = machine.Properties.DefinitionString as string;

    // Assess
    assert.equal(machine.Properties.DefinitionSubstitutions.BufferPollSeconds, '15');
    assert.match(definition, /"WaitForOpenRun":\s*\{[^}]*"Seconds":\s*\$\{BufferPollSeconds\}/);
  });
});
