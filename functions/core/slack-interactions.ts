import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  SlackActionId,
  SlackDecisionMetadata,
  SlackDecisionView,
  SlackInteraction,
  type ApprovalRecord,
  type SlackApprovalSettings,
} from '../../contracts';
import type { ApprovalAttempt, ApprovalDependencies } from './approvals';
import { MAX_STORED_ATTEMPTS } from './approvals';
import { decideAsVerified } from './approval-sources';
import { sha256Hex } from './hashing';

/** Slack's own limits (docs/approval-slack-and-cli.md): older or newer requests are refused. */
export const SLACK_MAX_CLOCK_SKEW_SECONDS = 5 * 60;
/** Interaction payloads are a few KiB; anything far larger is not from Slack. */
export const SLACK_MAX_BODY_BYTES = 64 * 1024;

/** A Slack modal (views.open), as Block Kit JSON. */
export type SlackView = Record<string, unknown>;

/** The Slack Web API calls the endpoint makes. */
export interface SlackApi {
  /** views.open with the trigger_id of the button press (valid for 3 seconds). */
  openView(triggerId: string, view: SlackView): Promise<void>;
}

/** Remembers each signed request once (a conditional write): a second delivery is a replay. */
export interface InteractionReplayGuard {
  /** false when this request was seen before. */
  firstDelivery(requestKey: string, seenAt: Date): Promise<boolean>;
}

export interface SlackInteractionDependencies {
  gate: ApprovalDependencies;
  settings: SlackApprovalSettings;
  /** The app's signing secret, read by its secret_ref. */
  signingSecret: () => Promise<string>;
  slack: SlackApi;
  replays: InteractionReplayGuard;
}

export interface SlackHttpRequest {
  method: string;
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  /** The raw body, exactly as signed. */
  body: string;
}

export interface SlackHttpResponse {
  status: number;
  /** JSON for Slack (a view_submission's response_action), or empty. */
  body: string;
}

/** Slack's v0 signature: HMAC-SHA256 with the signing secret over `v0:<timestamp>:<body>`. */
export function slackSignature(signingSecret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

function signatureMatches(
  signingSecret: string,
  timestamp: string,
  body: string,
  given: string | undefined,
): boolean {
  if (!given || !/^v0=[a-f0-9]{64}$/.test(given)) return false;
  return timingSafeEqual(
    Buffer.from(slackSignature(signingSecret, timestamp, body)),
    Buffer.from(given),
  );
}

const json = (status: number, value?: unknown): SlackHttpResponse => ({
  status,
  body: value === undefined ? '' : JSON.stringify(value),
});
/** Slack mrkdwn treats &, < and > as control characters. */
const mrkdwn = (s: string) =>
  s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] as string);
const plain = (text: string, max = 24) => ({
  type: 'plain_text',
  text: text.length > max ? `${text.slice(0, max - 1)}…` : text,
});

/** A modal that only tells the approver something (no submit button). */
export function noticeView(title: string, text: string): SlackView {
  return {
    type: 'modal',
    title: plain(title),
    close: plain('Close'),
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: mrkdwn(text).slice(0, 3000) } }],
  };
}

/** The decision modal: what will be done, and for an approval the challenge to type back. */
export function decisionView(record: ApprovalRecord, decision: 'approve' | 'reject'): SlackView {
  const metadata: SlackDecisionMetadata = { approvalId: record.approvalId, decision };
  const about =
    `*${mrkdwn(record.opKind)} of ${mrkdwn(record.jobId)}*\n${mrkdwn(record.plan.summary)}\n` +
    `Run ${mrkdwn(record.jobRunId)}, requested by ${mrkdwn(record.requestedBy)}; expires ${record.expiresAt}.`;
  const input = (blockId: string, label: string, optional: boolean, hint?: string) => ({
    type: 'input',
    block_id: blockId,
    optional,
    label: plain(label, 2000),
    ...(hint ? { hint: plain(hint, 2000) } : {}),
    element: {
      type: 'plain_text_input',
      action_id: SlackDecisionView.inputAction,
      max_length: 1000,
    },
  });
  return {
    type: 'modal',
    callback_id: SlackDecisionView.callbackId,
    private_metadata: JSON.stringify(metadata),
    title: plain(decision === 'approve' ? 'Approve this op?' : 'Reject this op?'),
    submit: plain(decision === 'approve' ? 'Approve' : 'Reject'),
    close: plain('Cancel'),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: about.slice(0, 3000) } },
      ...(decision === 'approve'
        ? [
            input(
              SlackDecisionView.challengeBlock,
              `Type the challenge: ${record.challenge}`,
              false,
              'Proof that you read the request.',
            ),
          ]
        : []),
      input(SlackDecisionView.reasonBlock, 'Reason (optional)', true),
    ],
  };
}

/**
 * Slack's interaction endpoint (docs/approval-slack-and-cli.md). A request is acted on only when it
 * is signed with the app's signing secret, at most 5 minutes old, and seen for the first time; the
 * Slack user must be mapped to an approver in policy. An Approve or Reject button opens the
 * decision modal; submitting it decides through the approval endpoint's rules. Every refusal is
 * audited.
 */
export async function handleSlackInteraction(
  deps: SlackInteractionDependencies,
  request: SlackHttpRequest,
): Promise<SlackHttpResponse> {
  const { gate } = deps;
  const now = gate.clock.now();
  // Headers are the sender's words: redacted before they are stored or logged.
  const rawAgent = request.headers['user-agent'];
  const userAgent = rawAgent === undefined ? null : gate.redactor.text(rawAgent.slice(0, 256));
  // Only a verified request tells who is asking: until then the payload is a claim, logged as one.
  const record = async (
    outcome: string,
    approvalId: string | undefined,
    identity: string | null,
    slackUser?: string,
  ) => {
    const attempt: ApprovalAttempt = {
      at: now.toISOString(),
      method: 'POST',
      identity,
      userAgent,
      outcome,
      source: 'slack',
    };
    const known =
      approvalId && /^[a-f0-9]{32}$/.test(approvalId)
        ? await gate.approvals.getApproval(approvalId)
        : undefined;
    if (known)
      await gate.approvals.recordApprovalAttempt(
        approvalId as string,
        attempt,
        MAX_STORED_ATTEMPTS,
      );
    gate.log('slack interaction', {
      approvalId: approvalId ?? null,
      jobRunId: known?.record.jobRunId ?? null,
      slackUser: slackUser ? gate.redactor.text(slackUser) : null,
      ...attempt,
    });
  };
  const refuse = async (status: number, outcome: string) => {
    const claimed = claimedPayload(request.body);
    await record(outcome, claimed.approvalId, null, claimed.user);
    return json(status);
  };

  if (request.method.toUpperCase() !== 'POST') return refuse(405, 'refused_method');
  if (Buffer.byteLength(request.body) > SLACK_MAX_BODY_BYTES)
    return refuse(413, 'refused_too_large');
  const timestamp = request.headers['x-slack-request-timestamp'] ?? '';
  if (!/^\d{1,12}$/.test(timestamp)) return refuse(401, 'refused_unsigned');
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > SLACK_MAX_CLOCK_SKEW_SECONDS)
    return refuse(401, 'refused_stale');
  const signature = request.headers['x-slack-signature'];
  if (!signature) return refuse(401, 'refused_unsigned');
  if (!signatureMatches(await deps.signingSecret(), timestamp, request.body, signature))
    return refuse(401, 'refused_bad_signature');
  if (!(await deps.replays.firstDelivery(sha256Hex(`slack|${signature}`), now)))
    return refuse(409, 'refused_replay');

  const parsed = SlackInteraction.safeParse(parsePayload(request.body));
  if (!parsed.success) return refuse(400, 'refused_bad_request');
  const interaction = parsed.data;
  const slackUser = interaction.user.id;
  const identity = deps.settings.users[slackUser] ?? null;
  const who = `${userAgent ?? 'Slack'} (Slack user ${slackUser})`;

  if (interaction.type === 'block_actions') {
    const action = interaction.actions[0]!;
    if (action.action_id === SlackActionId.review) return json(200); // the link button: Slack opens the page itself
    const decision =
      action.action_id === SlackActionId.approve
        ? 'approve'
        : action.action_id === SlackActionId.reject
          ? 'reject'
          : null;
    if (!decision) return refuse(400, 'refused_bad_request');
    const approvalId = action.value ?? '';
    const show = (title: string, text: string) =>
      deps.slack.openView(interaction.trigger_id, noticeView(title, text)).then(() => json(200));
    if (!identity) {
      await record('refused_unknown_slack_user', approvalId, null, slackUser);
      return show(
        'Not an approver',
        `Slack user ${slackUser} is not mapped to an approver in opsrail's policy (approvals.slack.users).`,
      );
    }
    const stored = /^[a-f0-9]{32}$/.test(approvalId)
      ? await gate.approvals.getApproval(approvalId)
      : undefined;
    if (!stored) return show('Not found', 'There is no such approval request.');
    if (stored.record.status !== 'PENDING') {
      await record('refused_already_decided', approvalId, identity, slackUser);
      return show(
        'Already decided',
        `Already ${stored.record.status.toLowerCase()}${stored.record.decidedBy ? ` by ${stored.record.decidedBy}` : ''}.`,
      );
    }
    await deps.slack.openView(interaction.trigger_id, decisionView(stored.record, decision));
    await record('viewed', approvalId, identity, slackUser);
    return json(200);
  }

  const metadata = SlackDecisionMetadata.safeParse(parseJson(interaction.view.private_metadata));
  if (!metadata.success) return refuse(400, 'refused_bad_request');
  const { approvalId, decision } = metadata.data;
  const done = (title: string) =>
    json(200, { response_action: 'update', view: noticeView(title.slice(0, 24), title) });
  if (!identity) {
    await record('refused_unknown_slack_user', approvalId, null, slackUser);
    return done('Not an approver');
  }
  const value = (block: string) =>
    interaction.view.state.values[block]?.[SlackDecisionView.inputAction]?.value ?? undefined;
  const outcome = await decideAsVerified(gate, {
    approvalId,
    identity,
    source: 'slack',
    decision,
    challenge: value(SlackDecisionView.challengeBlock),
    reason: value(SlackDecisionView.reasonBlock),
    userAgent: who,
  });
  // A mistyped challenge keeps the modal open with the error beside the field.
  if (outcome.status === 400 && decision === 'approve')
    return json(200, {
      response_action: 'errors',
      errors: { [SlackDecisionView.challengeBlock]: outcome.title },
    });
  return done(outcome.title);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Slack posts `payload=<JSON>` form-encoded. */
function parsePayload(body: string): unknown {
  const payload = new URLSearchParams(body).get('payload');
  return payload === null ? undefined : parseJson(payload);
}

/**
 * What an unverified request claims (for the audit of its refusal): never trusted for anything
 * else.
 */
function claimedPayload(body: string): { approvalId?: string; user?: string } {
  const value = parsePayload(body.slice(0, SLACK_MAX_BODY_BYTES)) as
    | {
        user?: { id?: unknown };
        actions?: { value?: unknown }[];
        view?: { private_metadata?: unknown };
      }
    | undefined;
  if (!value || typeof value !== 'object') return {};
  const metadata =
    typeof value.view?.private_metadata === 'string'
      ? (parseJson(value.view.private_metadata) as { approvalId?: unknown } | undefined)
      : undefined;
  const approvalId = value.actions?.[0]?.value ?? metadata?.approvalId;
  const user = value.user?.id;
  return {
    approvalId: typeof approvalId === 'string' ? approvalId : undefined,
    user: typeof user === 'string' ? user.slice(0, 32) : undefined,
  };
}
