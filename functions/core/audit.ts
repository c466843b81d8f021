import { AuditEvent, type AuditEventType, type RunContext } from '../../contracts';
import { validationErrorOf } from './errors';

type RunEventFields = Omit<AuditEvent, 'schemaVersion' | 'eventId' | 'type' | 'stage' | 'jobId' | 'jobVersion' | 'jobRunId' | 'at' | 'actor'> & {
  actor?: AuditEvent['actor'];
  eventIdSuffix?: string;
};

/** An audit event about a run, validated against the contract before anything stores it. */
export function runEvent(run: Pick<RunContext, 'stage' | 'jobId' | 'jobVersion' | 'jobRunId'>, type: AuditEventType, at: Date | string, fields: RunEventFields): AuditEvent {
  const { eventIdSuffix, actor, ...rest } = fields;
  const candidate = {
    schemaVersion: 1,
    // Deterministic ids: a retried step produces the same event, which storage then dedupes.
    eventId: `${run.jobRunId}#${type}${eventIdSuffix ? `#${eventIdSuffix}` : ''}`,
    type,
    at: typeof at === 'string' ? at : at.toISOString(),
    stage: run.stage,
    jobId: run.jobId,
    jobVersion: run.jobVersion,
    jobRunId: run.jobRunId,
    actor: actor ?? { kind: 'system', id: 'opsrail' },
    ...rest,
  };
  const parsed = AuditEvent.safeParse(candidate);
  if (!parsed.success) throw validationErrorOf(`audit event ${type}`, parsed.error);
  return parsed.data;
}
