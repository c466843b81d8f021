import {
  currentProcess,
  formatHolder,
  isProcessAlive,
  parseHolder,
  type ProcessIdentity,
} from './process-identity';

/**
 * Local runs carry their holder in the execution name: `<p…t…>-<uuid>`, the process id and start
 * time of the process running the execution (docs/local-stack.md). In AWS the names carry none, and
 * the lease alone decides when a run may be taken over.
 */
export const localExecutionName = (uuid: string): string =>
  `${formatHolder(currentProcess())}-${uuid}`;

export function holderOf(executionId: string): ProcessIdentity | null {
  const name = executionId.split(':').at(-1) ?? '';
  return /^p\d+t\d+-/.test(name) ? parseHolder(name) : null;
}

/** true: its holder runs; false: its holder is gone (the run is orphaned); null: cannot tell. */
export function isLocalHolderAlive(executionId: string): boolean | null {
  const holder = holderOf(executionId);
  return holder ? isProcessAlive(holder) : null;
}

export type HolderState = 'alive' | 'gone' | 'unknown';
export const holderState = (executionId: string): HolderState =>
  (({ true: 'alive', false: 'gone', null: 'unknown' }) as const)[
    String(isLocalHolderAlive(executionId)) as 'true' | 'false' | 'null'
  ];
