/**
 * Key layout of the two tables, shared by the CDK constructs, the local stack's table creation and
 * the adapters, so the three can never disagree.
 */
export const stateTable = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** DynamoDB TTL (epoch seconds): items that carry it are deleted some time after it passes. */
  ttlAttribute: 'ttl',
  /** Schema changes are additive only: an older reader must still read every item. */
  keys: {
    run: (jobRunId: string) => ({ pk: `RUN#${jobRunId}`, sk: 'RUN' }),
    duplicate: (jobRunId: string, executionId: string) => ({
      pk: `RUN#${jobRunId}`,
      sk: `DUP#${executionId}`,
    }),
    jobState: (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'STATE' }),
    /**
     * A job's overlap slot: `active`, the run holding it, and `waiting`, the one buffered tick
     * (docs/scheduling.md#overlap).
     */
    jobSlot: (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'SLOT' }),
    schedulerCursor: (jobId: string) => ({ pk: `SCHED#${jobId}`, sk: 'CURSOR' }),
    /**
     * One partition holds every control (safety mode, kill-switches, dataset integrity): Preflight
     * reads it in one query.
     */
    controlPartition: 'CONTROL',
    safety: () => ({ pk: 'CONTROL', sk: 'SAFETY' }),
    killSwitch: (jobId: string | null) => ({
      pk: 'CONTROL',
      sk: jobId ? `KILL#JOB#${jobId}` : 'KILL#GLOBAL',
    }),
    datasetIntegrity: (datasetId: string) => ({ pk: 'CONTROL', sk: `DATASET#${datasetId}` }),
    /** A job whose schedule an operator paused (opsrail pause). */
    schedulePause: (jobId: string) => ({ pk: 'CONTROL', sk: `PAUSE#JOB#${jobId}` }),
    /**
     * Outside the control partition: Preflight's read of the controls never carries the chain head.
     */
    controlChainHead: () => ({ pk: 'CONTROL_CHAIN', sk: 'HEAD' }),
    /** Runs claimed and not finalized, so a restarted stack can find and finish them. */
    openPartition: 'OPEN',
    openRun: (jobRunId: string) => ({ pk: 'OPEN', sk: jobRunId }),
    approval: (approvalId: string) => ({ pk: `APPROVAL#${approvalId}`, sk: 'APPROVAL' }),
    /** Approvals still waiting for a decision, so `opsrail approvals` can list them. */
    pendingApprovalPartition: 'PENDING_APPROVAL',
    pendingApproval: (approvalId: string) => ({ pk: 'PENDING_APPROVAL', sk: approvalId }),
    /**
     * A signed Slack interaction seen once (its signature's hash): a second delivery is a replay.
     */
    slackRequest: (requestKey: string) => ({ pk: `SLACK_REQUEST#${requestKey}`, sk: 'SEEN' }),
    /**
     * One notification's delivery on one channel (docs/notifications.md#idempotency): `pending`
     * once claimed, `sent` after a 2xx; expires by `ttl`.
     */
    notification: (channel: string, dedupeKey: string) => ({
      pk: `NOTIFY#${channel}#${dedupeKey}`,
      sk: 'NOTIFICATION',
    }),
    /** An export dataset's counter: the last sequence number given (docs/exports.md). */
    exportCounter: (dataset: string) => ({ pk: `EXPORT#${dataset}`, sk: 'COUNTER' }),
    /** The sequence number one run holds for an export dataset, written with the counter's move. */
    exportHolder: (dataset: string, holder: string) => ({
      pk: `EXPORT#${dataset}`,
      sk: `HOLDER#${holder}`,
    }),
  },
} as const;

/** The layout Powertools idempotency expects by default. */
export const idempotencyTable = { partitionKey: 'id', ttlAttribute: 'expiration' } as const;
