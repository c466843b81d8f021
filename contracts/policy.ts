import { deferred } from './deferred';
import * as z from 'zod';
import { Environment, JobId, Stage } from './common';
import { CatalogJob, DangerousOpKind, JobMode } from './job';
import { JobSchedule } from './job';
import { TimeZone } from './schedule';
import { Identity, identityKey } from './identity';
import { ApprovalIdentityPolicy } from './sign-in';
import { SlackApprovalSettings } from './slack';
import { NotificationSettings } from './notification';

/** An allowed list names each person once (compared as docs/approvals.md says). */
function distinctIdentities(list: string[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  list.forEach((identity, index) => {
    if (seen.has(identityKey(identity)))
      ctx.addIssue({ code: 'custom', path: [index], message: `'${identity}' is listed twice` });
    seen.add(identityKey(identity));
  });
}
import { LambdaStandIn } from './job-module';
import { ReportsSettings } from './reports';

/**
 * Frequencies, windows, retries, thresholds, recipients and retention are policy, not code
 * (docs/policy.md).
 */
export const RetryPolicy = deferred(() =>
  z.strictObject({
    maxAttempts: z.number().int().min(0).max(10),
    intervalSeconds: z.number().int().min(1).max(3600),
    backoffRate: z.number().min(1).max(10),
    maxDelaySeconds: z.number().int().min(1).max(86400),
  }),
);

export const StagePolicy = deferred(() =>
  z
    .strictObject({
      $schema: z.string().optional(),
      stage: Stage,
      environment: Environment,
      /**
       * Default time zone for schedules that do not name one
       * (docs/scheduling.md#expressions-and-time-zones).
       */
      timezone: TimeZone.default('Asia/Tokyo'),
      retry: RetryPolicy,
      thresholds: z.strictObject({
        /** Consecutive failures after which a job is quarantined. */
        quarantineAfterConsecutiveFailures: z.number().int().min(1).max(100),
        /**
         * How long a run claim holds. A later delivery of the same tick may take over a claim whose
         * holder died once it expires; keep it longer than the longest step (Execute's timeout).
         * Execute's Powertools in-progress record expires with the lease: one setting
         * (docs/crash-safety.md).
         */
        runLeaseSeconds: z.number().int().min(5).max(86400),
        /**
         * Dead-man's switch: an enabled job with no successful run within its schedule's interval
         * plus this grace alarms.
         */
        deadManGraceMinutes: z.number().int().min(1).max(1440),
      }),
      /**
       * The data catalog: the dataset ids jobs may pin. A job naming one not listed here is refused
       * (inputs_unpinned).
       */
      datasets: z
        .array(z.strictObject({ datasetId: z.string().min(1), description: z.string().min(1) }))
        .default([]),
      recipients: z.strictObject({
        email: z.array(z.email()).default([]),
      }),
      retention: z.strictObject({
        evidenceDays: z.number().int().min(1).max(36500),
        /**
         * Finalized run records older than this are purged from the state table by
         * run_record_retention (after approval).
         */
        runRecordDays: z.number().int().min(1).max(36500).default(90),
        objectLockMode: z.enum(['GOVERNANCE', 'COMPLIANCE']),
        logDays: z.number().int().min(1).max(3653),
        idempotencyHours: z
          .number()
          .int()
          .min(1)
          .max(24 * 30),
      }),
      scheduler: z.strictObject({
        /** EventBridge Scheduler retry policy for a tick whose delivery failed. */
        maximumRetryAttempts: z.number().int().min(0).max(185),
        /**
         * The catch-up window: a tick older than this is not run late. In AWS it is the schedules'
         * RetryPolicy MaximumEventAgeInSeconds (minutes × 60; AWS allows 60 s to 24 h); locally,
         * after a restart, older ticks are reported missed and skipped (docs/scheduling.md#catch-up).
         */
        catchUpMinutes: z.number().int().min(1).max(1440),
        /**
         * Local scheduler only: runs it keeps going at once (default 4); due and catch-up ticks wait,
         * oldest first.
         */
        maxConcurrentRuns: z.number().int().min(1).max(64).optional(),
        /**
         * How often a tick buffered behind an open run of its job (overlap `buffer_one`) asks again
         * whether that run has ended: the job-run state machine's WaitForOpenRun state
         * (docs/scheduling.md#overlap).
         */
        bufferPollSeconds: z.number().int().min(1).max(3600).default(60),
        /** `opsrail backfill` runs at most this many windows at once (docs/scheduling.md#backfill). */
        backfillMaxWindows: z.number().int().min(1).max(10_000).default(24),
      }),
      /** The human gate for dangerous ops (docs/approvals.md, docs/safety-rules.md#dangerous-ops). */
      approvals: z
        .strictObject({
          /** How long a request waits for a decision; the link expires with it. */
          timeoutSeconds: z
            .number()
            .int()
            .min(5)
            .max(7 * 86400),
          /**
           * Who may approve each kind of dangerous op (never the requester); identities as
           * docs/approvals.md defines them.
           */
          approversByOpKind: z.partialRecord(
            DangerousOpKind,
            z.array(Identity).min(1).superRefine(distinctIdentities),
          ),
          /**
           * How many distinct allowed approvers must approve each kind of dangerous op (default 1).
           */
          minApprovalsByOpKind: z
            .partialRecord(DangerousOpKind, z.number().int().min(1).max(10))
            .default({}),
          /** Where approval links point (the approval page). */
          linkBaseUrl: z.url(),
          /**
           * Approve from Slack buttons (docs/approval-slack-and-cli.md); absent: Slack only carries
           * the link.
           */
          slack: SlackApprovalSettings.optional(),
          /**
           * Who signs approvers in on the page (docs/approval-sign-in.md); absent: cognito in AWS,
           * local locally.
           */
          identity: ApprovalIdentityPolicy.optional(),
        })
        .superRefine((approvals, ctx) => {
          for (const [opKind, min] of Object.entries(approvals.minApprovalsByOpKind)) {
            const listed = approvals.approversByOpKind[opKind as DangerousOpKind]?.length ?? 0;
            // The requester is never one of them, so one more must be listed than must approve.
            if (min !== undefined && min > Math.max(0, listed - 1)) {
              ctx.addIssue({
                code: 'custom',
                path: ['minApprovalsByOpKind', opKind],
                message: `needs ${min} approvals but approversByOpKind.${opKind} lists ${listed} (at least ${min + 1}, since the requester never counts)`,
              });
            }
          }
        })
        .default({
          timeoutSeconds: 3600,
          approversByOpKind: {},
          minApprovalsByOpKind: {},
          linkBaseUrl: 'http://127.0.0.1:8787',
        }),
      /**
       * The job-run state machine's execution log in CloudWatch Logs (docs/policy.md#execution-logging):
       * which events (every state, errors only, fatal only, none) and whether with each state's
       * input and output. Absent: executionLoggingOf's default for the environment.
       */
      executionLogging: z
        .strictObject({
          level: z.enum(['ALL', 'ERROR', 'FATAL', 'OFF']),
          includeExecutionData: z.boolean(),
        })
        .optional(),
      /**
       * Redaction before any write or log line (docs/redaction.md): the built-in patterns plus these.
       */
      redaction: z
        .strictObject({
          placeholder: z.string().min(1).max(64).default('[REDACTED]'),
          patterns: z
            .array(
              z.string().superRefine((source, ctx) => {
                try {
                  new RegExp(source, 'g');
                } catch (error) {
                  ctx.addIssue({
                    code: 'custom',
                    message: `not a valid regular expression: ${(error as Error).message}`,
                  });
                }
              }),
            )
            .default([]),
        })
        .default({ placeholder: '[REDACTED]', patterns: [] }),
      /**
       * Where notifications go (docs/notifications.md#configuration): Slack → GitHub issue → log.
       * Absent or empty: the log alone.
       */
      notifications: NotificationSettings.default({}),
      /**
       * The routine reports' global switch (docs/reports.md#switches): off, no report job is
       * scheduled even where `jobs.<id>.enabled` is true.
       */
      reports: ReportsSettings.prefault({}),
      /** Per-job switches. A job absent here is declared but disabled in this stage. */
      jobs: z
        .record(
          JobId,
          z.strictObject({
            enabled: z.boolean().default(false),
            mode: JobMode.optional(),
            schedule: JobSchedule.partial().optional(),
            params: z.record(z.string(), z.unknown()).optional(),
            /**
             * Stage `local` only: what a `lambda` job calls instead of its function
             * (contracts/job-module.ts).
             */
            standIn: LambdaStandIn.optional(),
          }),
        )
        .default({}),
    })
    .superRefine((policy, ctx) => {
      // The stand-in IdP signs anyone in as any listed name: it exists for the account-free local
      // stack only.
      const kind = policy.approvals.identity?.kind;
      if (kind === undefined) return;
      if ((policy.stage === 'local') !== (kind === 'local')) {
        ctx.addIssue({
          code: 'custom',
          path: ['approvals', 'identity', 'kind'],
          message:
            policy.stage === 'local'
              ? "the local stage signs approvers in with kind 'local'"
              : "kind 'local' (the stand-in IdP) is for the local stage only",
        });
      }
    }),
);
export type StagePolicy = z.infer<typeof StagePolicy>;

export const Catalog = deferred(() =>
  z.strictObject({
    $schema: z.string().optional(),
    jobs: z.array(CatalogJob).min(1),
  }),
);
export type Catalog = z.infer<typeof Catalog>;

/**
 * The execution log a stage gets (docs/policy.md#execution-logging): what its policy says, else
 * every state with its data in dev and stage (to debug a run from the console) and errors only,
 * without data, in prod (each logged state is billed by CloudWatch Logs, and data is what a run
 * carries).
 */
export function executionLoggingOf(
  settings: Pick<StagePolicy, 'environment' | 'executionLogging'>,
): NonNullable<StagePolicy['executionLogging']> {
  return (
    settings.executionLogging ??
    (settings.environment === 'prod'
      ? { level: 'ERROR', includeExecutionData: false }
      : { level: 'ALL', includeExecutionData: true })
  );
}
