import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HandlerEnv } from '../../contracts';
import { MemoryApprovalStore } from '../../functions/adapters/memory-approval-store';
import { MemoryEvidenceStore } from '../../functions/adapters/memory-evidence-store';
import {
  MemoryPersistenceLayer,
  type MemoryIdempotencyTable,
} from '../../functions/adapters/memory-idempotency-store';
import { MemoryStateStore } from '../../functions/adapters/memory-state-store';
import { memoryNotificationLedger } from '../../functions/core/notification-chain';
import { DEFAULT_POLICY_DIR, localHandlerEnv, localNames } from '../../local/stack';

/** The in-memory ports (functions/adapters/memory-*.ts), with the adapters' semantics. */
export function memoryDependencies() {
  const idempotency: MemoryIdempotencyTable = new Map();
  return {
    state: new MemoryStateStore(),
    approvals: new MemoryApprovalStore(),
    evidence: new MemoryEvidenceStore(),
    idempotencyPersistence: () => new MemoryPersistenceLayer(idempotency),
    notificationLedger: memoryNotificationLedger(),
  };
}

export type MemoryPorts = ReturnType<typeof memoryDependencies>;

/** Nothing listens here: a store that was not swapped for its in-memory twin fails loudly. */
const NO_SERVICE = 'http://127.0.0.1:9';

/**
 * testStack's counterpart for rule-level tests: the same environment shape (stage local, the policy
 * directory, a signing key file in a home of its own) but no DynamoDB Local and no S3 endpoint.
 * Pass `ports` to every LocalRuntime built on it
 * (`new LocalRuntime(stack.env, jobs, { ports: stack.ports })`) so they share one set of stores, as
 * runtimes on one local stack share its tables.
 */
export function memoryStack(options: { policyDir?: string } = {}): {
  env: HandlerEnv;
  home: string;
  ports: MemoryPorts;
  stop: () => Promise<void>;
} {
  const home = mkdtempSync(join(tmpdir(), 'opsrail-memory-'));
  const names = localNames('memory');
  const env: HandlerEnv = localHandlerEnv(
    { dynamodb: NO_SERVICE, s3: NO_SERVICE },
    names,
    options.policyDir ?? DEFAULT_POLICY_DIR,
    home,
  );
  return { env, home, ports: memoryDependencies(), stop: async () => {} };
}
