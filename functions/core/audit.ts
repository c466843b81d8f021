import { AuditEvent, type AuditEventType, type RunContext } from '../../contracts';
import { validationErrorOf } from './errors';

type AuditEventFields = Omit<AuditEvent, 'schemaVersion' | 'at'> & { at: Date | string };

/**
 * Every audit event is built here: the contract's version, its time as ISO, and validated against
 * the contract before anything stores it (a bad one is a ValidationError naming the field, never
 * stored).
 */
export function auditEvent(fields: AuditEventFields): AuditEvent {
  const { at, ...rest } = fields;
  const parsed = AuditEvent.safeParse({
    schemaVersion: 1,
    ...rest,
    at: typeof at === 'string' ? at : at.toISOString(),
  });
  if (!parsed.success) throw validationErrorOf(`audit event ${fields.type}`, parsed.error);
  return parsed.data;
}

type RunEventFields = Omit<
  AuditEvent,
  | 'schemaVersion'
  | 'eventId'
  | 'type'
  | 'stage'
  | 'jobId'
  | 'jobVersion'
  | 'jobRunId'
  | 'at'
  | 'actor'
> & {
  actor?: AuditEvent['actor'];
  eventIdSuffix?: string;
};

/** An audit event about a run. */
export function runEvent(
  run: Pick<RunContext, 'stage' | 'jobId' | 'jobVersion' | 'jobRunId'>,
  type: AuditEventType,
  at: Date | string,
  fields: RunEventFields,
): AuditEvent {
  const { eventIdSuffix, actor, ...rest } = fields;
  return auditEvent({
    // Deterministic ids: a retried step produces the same event, which storage then dedupes.
    eventId: `${run.jobRunId}#${type}${eventIdSuffix ? `#${eventIdSuffix}` : ''}`,
    type,
    at,
    stage: run.stage,
    jobId: run.jobId,
    jobVersion: run.jobVersion,
    jobRunId: run.jobRunId,
    actor: actor ?? { kind: 'system', id: 'opsrail' },
    ...rest,
  });
}

/** gate.record: what the approval gate decided for this run, and how many attempts it took. */
export function gateRecord(
  run: Pick<RunContext, 'stage' | 'jobId' | 'jobVersion' | 'jobRunId'>,
  approval: {
    record: { approvalId: string; status: string; decidedBy: string | null; opKind: string };
    attempts: unknown[];
  },
  at: string,
): AuditEvent {
  return runEvent(run, 'gate.record', at, {
    details: {
      approvalId: approval.record.approvalId,
      opKind: approval.record.opKind,
      decision: approval.record.status,
      decidedBy: approval.record.decidedBy,
      attempts: approval.attempts.length,
    },
  });
}
