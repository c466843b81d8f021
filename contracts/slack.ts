import { deferred } from './deferred';
import * as z from 'zod';
import { SecretRef } from './common';

/** A Slack user id (members U…, enterprise-grid W…). */
export const SlackUserId = deferred(() =>
  z.string().regex(/^[UW][A-Z0-9]{2,20}$/, 'must be a Slack user id such as U012ABCDEF'),
);

/**
 * Approving from Slack (policy `approvals.slack`): the app's signing secret and bot token by
 * secret_ref, and which Slack user is which approver named in `approvals.approversByOpKind`.
 */
export const SlackApprovalSettings = deferred(() =>
  z.strictObject({
    /** The Slack app's signing secret: every interaction is verified with it. */
    signingSecretRef: SecretRef,
    /** A bot token (xoxb-…) allowed to open the decision modal (views.open). */
    botTokenRef: SecretRef,
    /** Slack user id → the approver's name as approversByOpKind lists it. */
    users: z.record(SlackUserId, z.string().min(1)),
  }),
);
export type SlackApprovalSettings = z.infer<typeof SlackApprovalSettings>;

/** The buttons an approval message carries; their value is the approval id. */
export const SlackActionId = {
  approve: 'opsrail_approve',
  reject: 'opsrail_reject',
  review: 'opsrail_review',
} as const;
/** The decision modal and its two inputs. */
export const SlackDecisionView = {
  callbackId: 'opsrail_decision',
  challengeBlock: 'challenge',
  reasonBlock: 'reason',
  inputAction: 'value',
} as const;

const ApprovalId = deferred(() => z.string().regex(/^[a-f0-9]{32}$/, 'must be an approval id'));
const SlackUser = deferred(() => z.looseObject({ id: SlackUserId }));

/** A button press on an approval message. */
export const SlackBlockActions = deferred(() =>
  z.looseObject({
    type: z.literal('block_actions'),
    user: SlackUser,
    trigger_id: z.string().min(1).max(200),
    actions: z
      .array(
        z.looseObject({ action_id: z.string().max(255), value: z.string().max(2000).optional() }),
      )
      .min(1)
      .max(5),
  }),
);

/** What the decision modal carries through Slack and back (it is inside the signed payload). */
export const SlackDecisionMetadata = deferred(() =>
  z.strictObject({
    approvalId: ApprovalId,
    decision: z.enum(['approve', 'reject']),
  }),
);
export type SlackDecisionMetadata = z.infer<typeof SlackDecisionMetadata>;

const PlainInput = deferred(() =>
  z.looseObject({ value: z.string().max(3000).nullable().optional() }),
);

/** The decision modal submitted: the typed challenge and an optional reason. */
export const SlackViewSubmission = deferred(() =>
  z.looseObject({
    type: z.literal('view_submission'),
    user: SlackUser,
    view: z.looseObject({
      callback_id: z.literal(SlackDecisionView.callbackId),
      private_metadata: z.string().max(3000),
      state: z.looseObject({ values: z.record(z.string(), z.record(z.string(), PlainInput)) }),
    }),
  }),
);

/** The interaction payloads the endpoint acts on; anything else is refused as a bad request. */
export const SlackInteraction = deferred(() =>
  z.discriminatedUnion('type', [SlackBlockActions, SlackViewSubmission]),
);
export type SlackInteraction = z.infer<typeof SlackInteraction>;

/** The parts of a Lambda Function URL request the Slack endpoint reads. */
export const FunctionUrlRequest = deferred(() =>
  z.looseObject({
    requestContext: z.looseObject({ http: z.looseObject({ method: z.string().min(1).max(16) }) }),
    headers: z.record(z.string(), z.string()).default({}),
    body: z.string().optional(),
    isBase64Encoded: z.boolean().default(false),
  }),
);
export type FunctionUrlRequest = z.infer<typeof FunctionUrlRequest>;
