import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test, vi } from 'vitest';
import {
  GetScheduleCommand,
  type GetScheduleCommandOutput,
  SchedulerClient,
  UpdateScheduleCommand,
  type UpdateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { AuditEvent, ExecutionInput, stageResourceNames } from '../../contracts';
import { triggerCommand, type ScheduleCliContext } from '../../cli/schedule-controls';
import {
  EventBridgeScheduleController,
  StepFunctionsExecutionStarter,
} from '../../functions/adapters/aws-control';
import { MemoryEvidenceStore } from '../../functions/adapters/memory-evidence-store';
import { MemoryStateStore } from '../../functions/adapters/memory-state-store';
import { directoryPolicySource } from '../../functions/adapters/policy-sources';
import type { Clock } from '../../functions/core/clock';
import { statusReport } from '../../functions/core/controls';
import { ValidationError } from '../../functions/core/errors';
import { loadPolicy } from '../../functions/core/policy';
import { createRedactor } from '../../functions/core/redaction';
import { pauseSchedule, resumeSchedule } from '../../functions/core/schedule-pause';
import { DEFAULT_POLICY_DIR } from '../../local/stack';

// EventBridge Scheduler and Step Functions have no local twin: pause, resume and trigger against a
// deployed stage are proven on their mocked clients, with the state and evidence stores in memory.
const scheduler = mockClient(SchedulerClient);
const sfn = mockClient(SFNClient);
const MACHINE = 'arn:aws:states:eu-west-1:111111111111:stateMachine:opsrail-dev-job-run';
const JOB = 'evidence_integrity_check';
const names = stageResourceNames('dev');

/** The schedule as the CDK stack creates it (infra/constructs/job-scheduling.ts). */
const deployed = (): GetScheduleCommandOutput => ({
  $metadata: {},
  Name: names.schedule(JOB),
  GroupName: names.scheduleGroup,
  State: 'ENABLED',
  ScheduleExpression: 'cron(0 * * * ? *)',
  ScheduleExpressionTimezone: 'Asia/Tokyo',
  FlexibleTimeWindow: { Mode: 'OFF' },
  Description: `${JOB} 1.0.0 (VALIDATION, owner platform)`,
  Target: {
    Arn: MACHINE,
    RoleArn: 'arn:aws:iam::111111111111:role/scheduler',
    Input: JSON.stringify({
      jobId: JOB,
      scheduledTime: '<aws.scheduler.scheduled-time>',
      trigger: 'schedule',
    }),
    RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
    DeadLetterConfig: { Arn: 'arn:aws:sqs:eu-west-1:111111111111:dlq' },
  },
});

function awsStage(now = new Date('2026-05-01T10:20:30.456Z')) {
  const policy = loadPolicy(directoryPolicySource(DEFAULT_POLICY_DIR), 'dev');
  const clock: Clock = { now: () => new Date(now) };
  return {
    policy,
    state: new MemoryStateStore(),
    evidence: new MemoryEvidenceStore(),
    clock,
    redactor: createRedactor(policy.settings.redaction),
    schedules: new EventBridgeScheduleController(
      new SchedulerClient({}),
      names.scheduleGroup,
      names.schedule,
    ),
    executions: { stopRunning: async () => [] },
    starter: new StepFunctionsExecutionStarter(new SFNClient({}), MACHINE),
  };
}

async function controlEvents(evidence: MemoryEvidenceStore): Promise<AuditEvent[]> {
  const keys = (await evidence.list('stage=dev/')).filter((k) => k.includes('/control/'));
  const events = [];
  for (const key of keys)
    events.push(
      AuditEvent.parse(JSON.parse(new TextDecoder().decode(await evidence.getObject(key)))),
    );
  return events.sort((a, b) => (a.chain?.sequence ?? 0) - (b.chain?.sequence ?? 0));
}

beforeEach(() => {
  scheduler.reset();
  sfn.reset();
  // The schedule as EventBridge keeps it: UpdateSchedule replaces it whole, GetSchedule reads it.
  let current = deployed();
  scheduler.on(GetScheduleCommand).callsFake(() => structuredClone(current));
  scheduler.on(UpdateScheduleCommand).callsFake((input: UpdateScheduleCommandInput) => {
    current = { $metadata: {}, ...structuredClone(input) } as GetScheduleCommandOutput;
    return {};
  });
});
afterEach(() => vi.restoreAllMocks());

describe('opsrail pause and resume on a deployed stage (EventBridge Scheduler mocked)', () => {
  test('pause sets the schedule DISABLED and resume ENABLED, each time with the rest of its definition unchanged; both audited and shown by status', async () => {
    // Prepare
    const deps = awsStage();
    const { State: _state, $metadata: _m, ...definition } = deployed();

    // Act
    const paused = await pauseSchedule(deps, JOB, { by: 'alice', reason: 'vendor maintenance' });
    const whilePaused = await statusReport(deps);
    const resumed = await resumeSchedule(deps, JOB, { by: 'bob', reason: 'maintenance over' });
    const afterwards = await statusReport(deps);

    // Assess
    const updates = scheduler.commandCalls(UpdateScheduleCommand).map((c) => c.args[0].input);
    assert.deepEqual(
      updates.map((u) => u.State),
      ['DISABLED', 'ENABLED'],
    );
    for (const update of updates) {
      const { State: _s, ...rest } = update;
      assert.deepEqual(
        Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
        definition,
      );
    }
    assert.deepEqual(paused.disabledSchedules, [names.schedule(JOB)]);
    assert.deepEqual(resumed.enabledSchedules, [names.schedule(JOB)]);
    assert.deepEqual(whilePaused.jobs.find((j) => j.jobId === JOB)?.paused, {
      jobId: JOB,
      pausedBy: 'alice',
      pausedAt: '2026-05-01T10:20:30.456Z',
      reason: 'vendor maintenance',
    });
    assert.equal(whilePaused.jobs.find((j) => j.jobId === JOB)?.nextRun, null);
    assert.equal(afterwards.jobs.find((j) => j.jobId === JOB)?.paused, null);
    assert.match(afterwards.jobs.find((j) => j.jobId === JOB)?.nextRun ?? '', /^2026-05-01T11:00/);
    const events = await controlEvents(deps.evidence);
    assert.deepEqual(
      events.map((e) => [e.type, e.jobId, e.actor.id, e.details?.reason, e.chain?.sequence]),
      [
        ['schedule.pause', JOB, 'alice', 'vendor maintenance', 1],
        ['schedule.resume', JOB, 'bob', 'maintenance over', 2],
      ],
    );
    assert.deepEqual(events[0]?.details?.disabledSchedules, [names.schedule(JOB)]);
  });

  test('a second pause changes nothing; resume under an engaged kill-switch ends the pause but leaves the schedule disabled', async () => {
    // Prepare
    const deps = awsStage();
    await pauseSchedule(deps, JOB, { by: 'alice', reason: 'one' });
    await deps.state.setKillSwitch({
      schemaVersion: 1,
      jobId: JOB,
      engaged: true,
      reason: 'runaway',
      changedBy: 'carol',
      changedAt: '2026-05-01T10:00:00Z',
    });

    // Act
    const again = await pauseSchedule(deps, JOB, { by: 'bob', reason: 'two' });
    const resumed = await resumeSchedule(deps, JOB, { by: 'bob', reason: 'over' });
    const notPaused = await resumeSchedule(deps, JOB, { by: 'bob', reason: 'again' });

    // Assess
    assert.equal(again.changed, false);
    assert.equal(again.pause.pausedBy, 'alice');
    assert.equal(resumed.stillDisabledBy, 'kill-switch');
    assert.deepEqual(resumed.enabledSchedules, []);
    assert.deepEqual(
      scheduler.commandCalls(UpdateScheduleCommand).map((c) => c.args[0].input.State),
      ['DISABLED'],
      'only the first pause touched the schedule',
    );
    assert.equal(notPaused.ended, null);
    assert.deepEqual(
      (await controlEvents(deps.evidence)).map((e) => e.type),
      ['schedule.pause', 'schedule.resume'],
    );
  });

  test('who and why are required, and the job must be in the catalog: refused before any schedule is touched', async () => {
    // Prepare
    const deps = awsStage();

    // Act / Assess
    await assert.rejects(pauseSchedule(deps, JOB, { by: 'alice', reason: ' ' }), ValidationError);
    await assert.rejects(pauseSchedule(deps, JOB, { by: '', reason: 'r' }), ValidationError);
    await assert.rejects(
      pauseSchedule(deps, 'no_such_job', { by: 'alice', reason: 'r' }),
      /not in the catalog of stage 'dev'/,
    );
    assert.equal(scheduler.commandCalls(GetScheduleCommand).length, 0);
    assert.deepEqual(await controlEvents(deps.evidence), []);
  });
});

describe('opsrail trigger --stage (Step Functions mocked)', () => {
  test('one StartExecution on the stage’s state machine, with the scheduler’s input for this tick, marked manual', async () => {
    // Prepare
    sfn.on(StartExecutionCommand).resolves({
      executionArn: `${MACHINE.replace(':stateMachine:', ':execution:')}:abc`,
      startDate: new Date(),
    });
    const deps = awsStage();
    const printed: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
    vi.useFakeTimers({ now: new Date('2026-05-01T10:20:30.456Z'), toFake: ['Date'] });
    const cli: ScheduleCliContext = {
      policyFor: () => deps.policy,
      withControls: (_stage, fn) => fn(deps),
      runLocally: async () => assert.fail('a deployed stage is not run locally'),
    };

    // Act
    let code: number;
    try {
      code = await triggerCommand([JOB, '--stage', 'dev', '--as', 'carol', '--json'], cli);
    } finally {
      vi.useRealTimers();
    }

    // Assess
    assert.equal(code, 0);
    const calls = sfn.commandCalls(StartExecutionCommand);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.args[0].input.stateMachineArn, MACHINE);
    const input = JSON.parse(calls[0]?.args[0].input.input as string);
    assert.deepEqual(input, {
      jobId: JOB,
      scheduledTime: '2026-05-01T10:20:30Z',
      trigger: 'manual',
      requestedBy: 'carol',
    });
    // The scheduler's input (jobId, scheduledTime, trigger), plus who asked: the same contract.
    const schedulerInput = JSON.parse(deployed().Target?.Input as string);
    assert.deepEqual(
      Object.keys(input).filter((k) => k !== 'requestedBy'),
      Object.keys(schedulerInput),
    );
    assert.deepEqual(ExecutionInput.parse(input), input);
    assert.match(
      JSON.parse(printed.join('\n')).executionArn,
      /:execution:opsrail-dev-job-run:abc$/,
    );
  });

  test('trigger on the local stage runs through opsrail run; an unknown job is a usage error before anything starts', async () => {
    // Prepare
    const local = loadPolicy(directoryPolicySource(DEFAULT_POLICY_DIR), 'local');
    const ran: string[][] = [];
    const cli: ScheduleCliContext = {
      policyFor: () => local,
      withControls: async () => assert.fail('no stack for a local trigger: opsrail run starts it'),
      runLocally: async (args) => {
        ran.push(args);
        return 4;
      },
    };

    // Act
    const code = await triggerCommand([JOB, '--as', 'dave'], cli);
    const unknown = triggerCommand(['no_such_job'], cli);

    // Assess
    assert.equal(code, 4, 'the exit code of the run');
    assert.deepEqual(ran, [[JOB, '--as', 'dave']]);
    await assert.rejects(
      unknown,
      (e: Error) => e.name === 'UsageError' && /unknown job/.test(e.message),
    );
    assert.equal(sfn.commandCalls(StartExecutionCommand).length, 0);
  });
});
