import type { ApprovalDecision, ApprovalRecord, NotificationRecord } from '../../contracts';
import type { ApprovalAttempt, ApprovalStore, StoredApproval } from '../core/approvals';
import { byteOrder, conditionFailed, stored } from './memory-kit';

type Closing = Pick<ApprovalRecord, 'status' | 'decidedBy' | 'decidedAt' | 'reason'>;

interface ApprovalItem {
  record: Partial<ApprovalRecord> & Pick<ApprovalRecord, 'approvalId' | 'status'>;
  taskToken: string;
  attempts?: ApprovalAttempt[];
  attemptsNotStored?: number;
}

/**
 * Approvals in memory, for rule-level tests: each method mirrors DynamoDbApprovalStore's
 * conditional write (docs/testing.md; test/integration/approval-store.test.ts runs one contract
 * over both). Calls are atomic; values go in and come out as copies.
 */
export class MemoryApprovalStore implements ApprovalStore {
  private readonly items = new Map<string, ApprovalItem>();
  /** The pending list (approvalId → its expiry), which a decision that closes a request leaves. */
  private readonly pending = new Map<string, { approvalId: string; expiresAt: string }>();

  private existing(operation: string, approvalId: string): ApprovalItem {
    const item = this.items.get(approvalId);
    if (!item) throw conditionFailed(operation);
    return item;
  }

  private close(approvalId: string, item: ApprovalItem, decision: Closing): void {
    Object.assign(item.record, {
      status: decision.status,
      decidedBy: decision.decidedBy,
      decidedAt: decision.decidedAt,
      reason: decision.reason,
    });
    this.pending.delete(approvalId);
  }

  async putApproval(record: ApprovalRecord, taskToken: string): Promise<boolean> {
    if (this.items.has(record.approvalId)) return false;
    this.items.set(record.approvalId, stored({ record, taskToken, attempts: [] }));
    this.pending.set(record.approvalId, {
      approvalId: record.approvalId,
      expiresAt: record.expiresAt,
    });
    return true;
  }

  async getApproval(approvalId: string): Promise<StoredApproval | undefined> {
    const item = this.items.get(approvalId);
    if (!item) return undefined;
    const copy = stored(item);
    // Records written before N-of-M have neither minApprovals nor decisions: one approval, none
    // taken.
    const record = { minApprovals: 1, decisions: [], ...copy.record } as ApprovalRecord;
    return {
      record,
      taskToken: copy.taskToken,
      attempts: copy.attempts ?? [],
      attemptsNotStored: Number(copy.attemptsNotStored ?? 0),
    };
  }

  async decideApproval(
    approvalId: string,
    decision: Closing,
    from: ApprovalRecord['status'] = 'PENDING',
  ): Promise<boolean> {
    const item = this.items.get(approvalId);
    if (item?.record.status !== from) return false;
    this.close(approvalId, item, stored(decision));
    return true;
  }

  async addDecision(
    approvalId: string,
    decision: ApprovalDecision,
    expected: number,
    close: Closing | null,
  ): Promise<boolean> {
    const item = this.items.get(approvalId);
    if (item?.record.status !== 'PENDING') return false;
    // Records written before N-of-M have no decisions list: expected is then 0.
    const decisions = item.record.decisions;
    if (decisions === undefined ? expected !== 0 : decisions.length !== expected) return false;
    item.record.decisions = [...(decisions ?? []), stored(decision)];
    // The decision that settles the request closes it and leaves the pending list in the same
    // write.
    if (close) this.close(approvalId, item, stored(close));
    return true;
  }

  async recordApprovalAttempt(
    approvalId: string,
    attempt: ApprovalAttempt,
    max: number,
  ): Promise<'stored' | 'counted'> {
    const item = this.existing('recordApprovalAttempt', approvalId);
    if (item.attempts === undefined || item.attempts.length < max) {
      item.attempts = [...(item.attempts ?? []), stored(attempt)];
      return 'stored';
    }
    item.attemptsNotStored = (item.attemptsNotStored ?? 0) + 1;
    return 'counted';
  }

  async setDeliveries(
    approvalId: string,
    deliveries: ApprovalRecord['deliveries'],
    notification?: NotificationRecord,
  ): Promise<void> {
    const { record } = this.existing('setDeliveries', approvalId);
    record.deliveries = stored(deliveries);
    if (notification) record.notification = stored(notification);
  }

  async listPendingApprovals(): Promise<ApprovalRecord[]> {
    const ids = [...this.pending.keys()].sort(byteOrder);
    const records = await Promise.all(ids.map(async (id) => (await this.getApproval(id))?.record));
    return records.filter((r): r is ApprovalRecord => !!r);
  }
}
