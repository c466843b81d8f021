import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, test } from 'vitest';
import { AuditTicket, ErrorKind, RISK_LEVELS, TicketCategory } from '../../contracts';
import { loadNamedQueries } from '../../contracts/named-queries';
import { directoryPolicySource } from '../../functions/adapters/policy-sources';
import { errorForHttpStatus, JobFailedError, type OpsrailError } from '../../functions/core/errors';
import { loadPolicy } from '../../functions/core/policy';
import { createRedactor } from '../../functions/core/redaction';
import {
  assessRisk,
  buildTicket,
  classifyFailure,
  ticketMarkdown,
  type TicketInput,
} from '../../functions/core/tickets';
import { DEFAULT_POLICY_DIR } from '../../local/stack';
import { CANARIES, CUSTOM_PATTERN } from '../support/canaries';

// The stage's own redactor (policy/local.json), with the canaries' custom pattern added to it.
const settings = loadPolicy(directoryPolicySource(DEFAULT_POLICY_DIR), 'local').settings.redaction;
const redactor = createRedactor({
  ...settings,
  patterns: [...settings.patterns, CUSTOM_PATTERN],
});

/** A failure as the run record stores it: the thrown error's kind, name and message. */
const facts = (error: OpsrailError) => ({
  kind: error.kind,
  name: error.name,
  message: error.message,
});

const input = (over: Partial<TicketInput> = {}): TicketInput => ({
  run: {
    stage: 'local',
    jobId: 'deploy_webhook',
    jobVersion: '1.0.0',
    jobRunId: 'deploy_webhook/2026-01-05T17:00:00Z',
    approvalRequired: false,
  },
  error: facts(errorForHttpStatus(403, 'POST http://127.0.0.1:1/hooks')),
  step: 'execute',
  attempts: 1,
  endedAt: '2026-01-05T17:00:03.120Z',
  quarantined: false,
  evidenceRefs: [
    'stage=local/dt=2026-01-05/job_id=deploy_webhook/manifest/run=20260105T170000Z.json',
  ],
  ...over,
});

describe('classifyFailure: by HTTP status, then by cause', () => {
  test('tickets classified for 403, 404, 422, 500, 503 and a timeout', () => {
    // Prepare: the errors the http job throws for each answer (errorForHttpStatus), and its timeout.
    const what = 'POST http://127.0.0.1:1/hooks';
    const cases: [OpsrailError, string, number | null][] = [
      [errorForHttpStatus(403, what), 'permission', 403],
      [errorForHttpStatus(404, what), 'not_found', 404],
      [errorForHttpStatus(422, what), 'configuration', 422],
      [errorForHttpStatus(500, what), 'transient', 500],
      [errorForHttpStatus(503, what, '5'), 'transient', 503],
      [new JobFailedError('timeout', `${what} took longer than 2000 ms`), 'transient', null],
    ];
    for (const [error, category, status] of cases) {
      // Act
      const c = classifyFailure(facts(error));
      // Assess
      assert.deepEqual([c.category, c.http_status], [category, status], error.message);
      assert.ok(c.cause.length > 0);
    }
  });

  test('401, 409, 429, 408 and 504 have their own categories', () => {
    const of = (status: number) => classifyFailure(facts(errorForHttpStatus(status, 'GET x')));
    assert.equal(of(401).category, 'permission');
    assert.equal(of(409).category, 'conflict');
    assert.equal(of(429).category, 'rate_limited');
    assert.equal(of(408).category, 'transient');
    assert.equal(of(504).category, 'transient');
    assert.equal(of(504).http_status, 504);
  });

  test('a missing secret is secret_missing, in AWS and locally, not a plain not_found', () => {
    // Prepare
    const ref = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:deploy-token-AbCdEf';
    const messages = [
      `Secrets Manager GetSecretValue ${ref} failed: ResourceNotFoundException: Secrets Manager can't find the specified secret.`,
      `secret ${ref} is not in the local secrets file (/tmp/secrets.json)`,
    ];
    for (const message of messages) {
      // Act
      const c = classifyFailure({ kind: 'not_found', name: 'NotFoundError', message });
      // Assess
      assert.equal(c.category, 'secret_missing', message);
      assert.equal(c.http_status, null);
    }
    // Control: a function that does not exist is not a missing secret.
    assert.equal(
      classifyFailure({
        kind: 'not_found',
        name: 'NotFoundError',
        message: 'Lambda Invoke arn:aws:lambda:x failed: ResourceNotFoundException: no function',
      }).category,
      'not_found',
    );
  });

  test('no HTTP status: the error kind decides (a crash is a bug, a stop is unknown)', () => {
    const of = (kind: ErrorKind, name = 'X') =>
      classifyFailure({ kind, name, message: 'boom' }).category;
    assert.equal(of('internal', 'TypeError'), 'bug');
    assert.equal(of('permission', 'PermissionError'), 'permission');
    assert.equal(of('configuration', 'ConfigurationError'), 'configuration');
    assert.equal(of('throttling', 'ThrottlingError'), 'rate_limited');
    assert.equal(of('dependency', 'DependencyError'), 'transient');
    assert.equal(of('timeout', 'States.Timeout'), 'transient');
    assert.equal(of('stopped', 'ExecutionStoppedError'), 'unknown');
    assert.equal(of('unknown_outcome', 'UnknownOutcomeError'), 'unknown');
    assert.equal(of('throttling', 'RetryAfterTooLongError'), 'rate_limited');
  });

  test('a status in the message of a kind no HTTP answer produces is not taken for one', () => {
    const c = classifyFailure({
      kind: 'internal',
      name: 'TypeError',
      message: 'cannot read HTTP 404 of undefined',
    });
    assert.deepEqual([c.category, c.http_status], ['bug', null]);
  });
});

describe('assessRisk: the stated rules', () => {
  test('a permission or secret problem on a dangerous job is high; transient is low', () => {
    // Act
    const risk = (category: TicketCategory, dangerous: boolean, quarantined = false) =>
      assessRisk({ category, errorCode: 'permission', dangerous, quarantined }).risk;
    // Assess
    assert.equal(risk('permission', false), 'medium');
    assert.equal(risk('permission', true), 'high');
    assert.equal(risk('secret_missing', true), 'high');
    assert.equal(risk('transient', false), 'low');
    assert.equal(risk('transient', true), 'medium');
    assert.equal(risk('permission', true, true), 'critical');
    assert.equal(risk('bug', true, true), 'critical');
  });

  test('an unknown outcome is at least high, and every level says why', () => {
    const assessed = assessRisk({
      category: 'unknown',
      errorCode: 'unknown_outcome',
      dangerous: false,
      quarantined: false,
    });
    assert.equal(assessed.risk, 'high');
    assert.equal(assessed.reasons.length, 2);
  });
});

test('open_tickets ranks risk levels in the contract’s order', () => {
  // Prepare
  const sql = loadNamedQueries().find((q) => q.name === 'open_tickets')?.sql ?? '';
  // Act
  const ranks = [...sql.matchAll(/WHEN '(\w+)' THEN (\d)/g)].map((m) => ({
    level: m[1],
    rank: Number(m[2]),
  }));
  // Assess
  assert.deepEqual(
    ranks.sort((a, b) => a.rank - b.rank).map((r) => r.level),
    [...RISK_LEVELS],
  );
});

describe('buildTicket and ticketMarkdown', () => {
  test('a ticket matches its contract, its id and time come from the run, and it is deterministic', () => {
    // Act
    const ticket = buildTicket(input(), redactor);
    // Assess
    AuditTicket.parse(ticket);
    assert.match(ticket.ticket_id, /^tkt-[a-f0-9]{16}$/);
    assert.equal(ticket.opened_at, '2026-01-05T17:00:03.120Z');
    assert.equal(ticket.classification.category, 'permission');
    assert.equal(ticket.risk, 'medium');
    assert.match(ticket.suggested_action, /iam|credentials/);
    assert.deepEqual(buildTicket(input(), redactor), ticket);
    const other = buildTicket(
      input({ run: { ...input().run, jobRunId: 'deploy_webhook/2026-01-06T17:00:00Z' } }),
      redactor,
    );
    assert.notEqual(other.ticket_id, ticket.ticket_id);
    const markdown = ticketMarkdown(ticket);
    assert.match(markdown, /^# Audit ticket tkt-[a-f0-9]{16}: medium risk, permission/);
    assert.match(markdown, /\| HTTP status \| 403 \|/);
    assert.match(markdown, /manifest\/run=20260105T170000Z\.json/);
  });

  test('a message cannot break out of its Markdown block', () => {
    const message = 'one ``` two\n| a | b |\n```';
    const markdown = ticketMarkdown(
      buildTicket(input({ error: { kind: 'internal', name: 'Error', message } }), redactor),
    );
    assert.match(markdown, /````text\none ``` two\n\| a \| b \|\n```\n````/);
  });

  test('property: every failure gets exactly one category, and a canary secret in it appears in neither JSON nor Markdown', () => {
    const canaries = Object.values(CANARIES);
    fc.assert(
      fc.property(
        fc.constantFrom(...ErrorKind.options),
        fc.constantFrom(...canaries),
        fc.string({ maxLength: 40 }),
        fc.option(fc.integer({ min: 100, max: 599 }), { nil: undefined }),
        fc.boolean(),
        fc.boolean(),
        (kind, canary, noise, status, dangerous, quarantined) => {
          // Prepare: a message (and an error name) carrying a canary, as a careless dependency
          // might send.
          const message = `${status === undefined ? '' : `HTTP ${status}: `}${noise} token=${canary} ${noise}`;
          const ticketInput = input({
            error: { kind, name: `Err ${canary}`, message },
            run: { ...input().run, approvalRequired: dangerous },
            quarantined,
          });
          // Act
          const ticket = buildTicket(ticketInput, redactor);
          const text = `${JSON.stringify(ticket)}\n${ticketMarkdown(ticket)}`;
          // Assess
          AuditTicket.parse(ticket);
          assert.equal(
            TicketCategory.options.filter((c) => c === ticket.classification.category).length,
            1,
          );
          assert.deepEqual(ticket, buildTicket(ticketInput, redactor));
          for (const leaked of [canary, decodeURIComponent(canary)])
            assert.ok(!text.includes(leaked), `canary leaked: ${leaked}`);
        },
      ),
      { numRuns: 300 },
    );
  });
});
