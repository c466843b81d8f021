import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { ExecutionInput } from '../contracts';
import { systemClock } from '../functions/core/clock';
import type { ControlDependencies } from '../functions/core/controls';
import { validationErrorOf } from '../functions/core/errors';
import { isoSeconds } from '../functions/core/ids';
import {
  type PauseDependencies,
  pauseSchedule,
  resumeSchedule,
} from '../functions/core/schedule-pause';
import { UsageError } from './errors';
import { showTime } from '../functions/core/run-history';
import { type CliContext, requireKnownJobArg, zoneOf } from './runs';

/** Starts one execution of the stage's job-run state machine (StartExecution in AWS). */
export interface ExecutionStarter {
  start(input: ExecutionInput): Promise<string>;
}

/** The controls pause, resume and trigger need: the schedules' switch, and in AWS the starter. */
export interface ScheduleCliContext extends Omit<CliContext, 'withControls'> {
  withControls<T>(
    stage: string | undefined,
    fn: (
      deps: ControlDependencies & PauseDependencies & { starter?: ExecutionStarter },
    ) => Promise<T>,
  ): Promise<T>;
  /** `opsrail run` with these arguments: a local trigger runs through the local runtime as it does. */
  runLocally(args: string[]): Promise<number>;
}

function pauseOptions(command: string, args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    options: {
      as: { type: 'string' },
      reason: { type: 'string' },
      stage: { type: 'string' },
      json: { type: 'boolean', default: false },
      utc: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new UsageError(`${command} needs exactly one <jobId>`);
  if (!values.as)
    throw new UsageError('--as NAME is required: every control change is audited with who made it');
  if (!values.reason)
    throw new UsageError('--reason TEXT is required: every control change is audited with why');
  return {
    jobId: positionals[0] as string,
    actor: { by: values.as, reason: values.reason },
    stage: values.stage,
    json: values.json,
    utc: values.utc,
  };
}

/** `opsrail pause <jobId> --as NAME --reason TEXT [--stage S] [--json]`. */
export async function pauseCommand(args: string[], cli: ScheduleCliContext): Promise<number> {
  const { jobId, actor, stage, json, utc } = pauseOptions('pause', args);
  requireKnownJobArg(cli.policyFor(stage), jobId);
  return cli.withControls(stage, async (deps) => {
    const result = await pauseSchedule(deps, jobId, actor);
    const at = showTime(result.pause.pausedAt, zoneOf(deps.policy, utc)(jobId));
    if (json) console.log(JSON.stringify(result, null, 2));
    else if (!result.changed)
      console.log(
        `${jobId} is already paused (by ${result.pause.pausedBy} at ${at}: ${result.pause.reason}); nothing changed`,
      );
    else {
      console.log(
        `paused: ${jobId} by ${result.pause.pausedBy} at ${at} (${result.pause.reason}); no scheduled tick starts a run until opsrail resume ${jobId}`,
      );
      console.log(
        `disabled schedules: ${result.disabledSchedules.length ? result.disabledSchedules.join(', ') : deps.policy.stage === 'local' ? 'the local scheduler skips its ticks' : 'none'}`,
      );
    }
    return 0;
  });
}

/** `opsrail resume <jobId> --as NAME --reason TEXT [--stage S] [--json]`. */
export async function resumeCommand(args: string[], cli: ScheduleCliContext): Promise<number> {
  const { jobId, actor, stage, json, utc } = pauseOptions('resume', args);
  requireKnownJobArg(cli.policyFor(stage), jobId);
  return cli.withControls(stage, async (deps) => {
    const result = await resumeSchedule(deps, jobId, actor);
    if (json) console.log(JSON.stringify(result, null, 2));
    else if (!result.ended) console.log(`${jobId} is not paused; nothing changed`);
    else {
      console.log(
        `resumed: ${jobId} by ${actor.by} (${actor.reason}); it was paused by ${result.ended.pausedBy} at ${showTime(result.ended.pausedAt, zoneOf(deps.policy, utc)(jobId))}`,
      );
      console.log(
        result.stillDisabledBy
          ? 'its schedule stays disabled: a kill-switch is engaged (releasing it is a gated op: kill_switch_release)'
          : `enabled schedules: ${result.enabledSchedules.length ? result.enabledSchedules.join(', ') : deps.policy.stage === 'local' ? 'the local scheduler fires its next tick' : 'none'}`,
      );
    }
    return 0;
  });
}

/**
 * What `opsrail trigger --stage S` starts the state machine with: the input EventBridge Scheduler
 * sends (infra/constructs/job-scheduling.ts: jobId, scheduledTime as <aws.scheduler.scheduled-time>
 * gives it, whole seconds in UTC), marked as an operator's (`trigger: manual`, requestedBy).
 */
export function triggerInput(jobId: string, now: Date, requestedBy: string): ExecutionInput {
  const parsed = ExecutionInput.safeParse({
    jobId,
    scheduledTime: isoSeconds(now),
    trigger: 'manual',
    requestedBy,
  });
  if (!parsed.success) throw validationErrorOf('trigger', parsed.error);
  return parsed.data;
}

/** `opsrail trigger <jobId> [--as NAME] [--stage S] [--json]`: one run now. */
export async function triggerCommand(args: string[], cli: ScheduleCliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      as: { type: 'string' },
      stage: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new UsageError('trigger needs exactly one <jobId>');
  const jobId = positionals[0] as string;
  const policy = cli.policyFor(values.stage);
  requireKnownJobArg(policy, jobId);
  if (policy.stage === 'local')
    return cli.runLocally([
      jobId,
      ...(values.as ? ['--as', values.as] : []),
      ...(values.json ? ['--json'] : []),
    ]);
  const input = triggerInput(jobId, systemClock.now(), values.as ?? userInfo().username);
  return cli.withControls(values.stage, async (deps) => {
    if (!deps.starter) throw new UsageError(`stage ${policy.stage} cannot start executions`);
    const executionArn = await deps.starter.start(input);
    if (values.json) console.log(JSON.stringify({ executionArn, input }, null, 2));
    else
      console.log(
        `started ${executionArn}\n  ${jobId} tick ${input.scheduledTime} (trigger manual, requested by ${input.requestedBy}); opsrail runs ${jobId} --stage ${policy.stage} shows it`,
      );
    return 0;
  });
}
