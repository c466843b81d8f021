import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'vitest';
import { runOpsrail } from '../support/cli';

/** One CLI command with its own home (where a started stack would leave its files). */
const opsrail = (args: string[], home: string) => runOpsrail(args, { OPSRAIL_HOME: home }, 60_000);

/** At most `limit` CLI processes at a time: the machine running the tests has few cores. */
async function inTurn<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i] as T);
      }
    }),
  );
  return results;
}

/** The commands USAGE lists: the first word of each of its command lines (`a|b` names two). */
function commandsOf(usage: string): string[] {
  const lines = usage.split('\n');
  const start = lines.indexOf('commands:');
  const end = lines.findIndex((l, i) => i > start && l === '');
  const heads = lines
    .slice(start + 1, end)
    .flatMap((l) => /^ {2}(\S+)/.exec(l)?.[1]?.split('|') ?? []);
  return [...new Set(heads)];
}

describe('the CLI’s usage, without any local stack', () => {
  test('every command in USAGE answers --help with exit 0 and its own usage lines', async () => {
    // Prepare
    const home = mkdtempSync(join(tmpdir(), 'opsrail-usage-'));
    const usage = await opsrail(['--help'], home);
    const commands = commandsOf(usage.stdout);

    // Act
    const helps = await inTurn(commands, 3, (command) => opsrail([command, '--help'], home));

    // Assess
    assert.equal(usage.code, 0);
    for (const added of ['runs', 'show', 'trigger', 'pause', 'resume', 'status', 'run', 'kill'])
      assert.ok(commands.includes(added), `${added} is in USAGE: ${commands.join(', ')}`);
    commands.forEach((command, i) => {
      const help = helps[i]!;
      assert.equal(help.code, 0, `${command} --help: ${help.stderr}`);
      const lines = help.stdout.split('\n');
      assert.equal(lines[0], `usage: opsrail ${command} [options]`);
      assert.ok(
        lines.some((l) => /^ {2}(\S+)/.exec(l)?.[1]?.split('|').includes(command)),
        `${command} --help shows its own line:\n${help.stdout}`,
      );
    });
    assert.deepEqual(readdirSync(home), [], '--help starts nothing');
  });

  test('bad arguments and unknown jobs fail with exit 2 before the local stack starts: fast, no Java, nothing in OPSRAIL_HOME', async () => {
    // Prepare
    const home = join(mkdtempSync(join(tmpdir(), 'opsrail-bad-args-')), 'home');
    const bad = [
      ['runs', '--bogus'],
      ['runs', 'no_such_job'],
      ['runs', '--since', 'yesterday'],
      ['runs', '--status', 'great'],
      ['runs', 'a_job', 'another_job'],
      ['show', 'not-a-run-id'],
      ['show'],
      ['pause', 'evidence_integrity_check', '--reason', 'r'],
      ['pause', 'no_such_job', '--as', 'alice', '--reason', 'r'],
      ['resume', 'evidence_integrity_check', '--as', 'alice'],
      ['trigger', 'no_such_job'],
      ['trigger', 'evidence_integrity_check', '--stage', 'moon'],
      ['status', '--bogus'],
      ['kill', 'engage', 'no_such_job', '--as', 'alice', '--reason', 'r'],
      ['run', 'no_such_job'],
      ['run', 'evidence_integrity_check', '--at', 'yesterday'],
      ['safety', 'CALM', '--as', 'alice', '--reason', 'r'],
      ['support-bundle', 'not-a-run-id', '--as', 'alice'],
    ];

    // Act
    const answers = await inTurn(bad, 3, (args) => opsrail(args, home));

    // Assess
    bad.forEach((args, i) => {
      const answer = answers[i]!;
      assert.equal(answer.code, 2, `${args.join(' ')}: ${answer.stdout}${answer.stderr}`);
      assert.match(answer.stderr, /^opsrail: /, args.join(' '));
      assert.doesNotMatch(answer.stderr, /starting the local stack/, args.join(' '));
      // The proof is the empty home below; this bound (generous: the test machine may be loaded)
      // catches an answer that waited for DynamoDB Local to start and stop.
      assert.ok(answer.ms < 30_000, `${args.join(' ')} took ${answer.ms} ms`);
    });
    assert.equal(existsSync(home), false, 'no stack artefacts: the home was never even created');
  });
});
