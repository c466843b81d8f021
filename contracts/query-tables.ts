/**
 * The evidence tables, one per evidence kind: the single definition behind the Glue tables (Athena,
 * partition projection over stage, dt and job_id) and the DuckDB views of `opsrail query`, so both
 * expose the same names and columns. Column names are Athena's (lowercase); `json` is the key in
 * the stored JSON.
 */
export type ColumnType =
  | 'string'
  | 'int'
  | 'bigint'
  | 'boolean'
  | { struct: Column[] }
  | { array: ColumnType };
export interface Column {
  name: string;
  json: string;
  type: ColumnType;
}
export interface EvidenceTable {
  name: string;
  /** The folder under the partition prefix (layout.ts). */
  folder: string;
  /**
   * 'job' tables live under stage=/dt=/job_id=/; 'stage' tables under stage=/dt=/ (operator
   * actions).
   */
  partitions: 'job' | 'stage';
  extension: 'json' | 'jsonl';
  columns: Column[];
}

const c = (json: string, type: ColumnType = 'string'): Column => ({
  name: json.toLowerCase(),
  json,
  type,
});
const errorStruct: ColumnType = { struct: [c('kind'), c('name'), c('message')] };

const auditColumns: Column[] = [
  c('eventId'),
  c('type'),
  c('at'),
  c('jobId'),
  c('jobVersion'),
  c('jobRunId'),
  c('actor', { struct: [c('kind'), c('id')] }),
  c('status'),
  c('quality'),
  c('error', errorStruct),
  c('retry', { struct: [c('count', 'int'), c('reason')] }),
  c('details'),
];

export const EVIDENCE_TABLES: EvidenceTable[] = [
  {
    name: 'audit_events',
    folder: 'audit',
    partitions: 'job',
    extension: 'jsonl',
    columns: auditColumns,
  },
  {
    name: 'control_events',
    folder: 'control',
    partitions: 'stage',
    extension: 'json',
    columns: auditColumns,
  },
  {
    name: 'run_records',
    folder: 'run_record',
    partitions: 'job',
    extension: 'json',
    columns: [
      c('jobId'),
      c('jobVersion'),
      c('jobRunId'),
      c('scheduledTime'),
      c('trigger'),
      c('executionId'),
      c('status'),
      c('quality'),
      c('startedAt'),
      c('endedAt'),
      c('duration_ms', 'bigint'),
      c('attempts', 'int'),
      c('error', errorStruct),
    ],
  },
  {
    name: 'manifests',
    folder: 'manifest',
    partitions: 'job',
    extension: 'json',
    columns: [
      c('jobId'),
      c('jobVersion'),
      c('jobRunId'),
      c('sequence', 'int'),
      c('createdAt'),
      c('prefix'),
      c('objects', {
        array: { struct: [c('name'), c('sha256'), c('size', 'bigint'), c('contentType')] },
      }),
      c('previousManifest', { struct: [c('key'), c('sha256'), c('sequence', 'int')] }),
    ],
  },
  {
    name: 'expected_ticks',
    folder: 'expected_ticks',
    partitions: 'job',
    extension: 'jsonl',
    columns: [c('jobId'), c('scheduledTime'), c('jobRunId'), c('expression'), c('timezone')],
  },
  // endpoint_latency_monitor (docs/latency-slo.md#where-the-numbers-are-kept): one row per sample,
  // one per endpoint and completed hour, one per alert raised.
  {
    name: 'latency_samples',
    folder: 'latency_samples',
    partitions: 'job',
    extension: 'jsonl',
    columns: [c('at'), c('endpoint'), c('latency_ms', 'bigint'), c('status', 'int'), c('jobRunId')],
  },
  {
    name: 'latency_rollups',
    folder: 'latency_rollups',
    partitions: 'job',
    extension: 'jsonl',
    columns: [
      c('hour'),
      c('endpoint'),
      c('count', 'int'),
      c('failures', 'int'),
      c('p50_ms', 'bigint'),
      c('p95_ms', 'bigint'),
      c('threshold_ms', 'bigint'),
      c('breach', 'boolean'),
      c('jobRunId'),
    ],
  },
  {
    name: 'latency_alerts',
    folder: 'latency_alerts',
    partitions: 'job',
    extension: 'jsonl',
    columns: [
      c('at'),
      c('endpoint'),
      c('level'),
      c('streak', 'int'),
      c('delivery_status'),
      c('payload_checksum_sha256'),
      c('jobRunId'),
    ],
  },
  // A failed run's audit ticket (contracts/audit-ticket.ts, docs/evidence.md#tickets). Its stage
  // and job_id are the partition columns of the same names.
  {
    name: 'tickets',
    folder: 'ticket',
    partitions: 'job',
    extension: 'json',
    columns: [
      c('ticket_id'),
      c('job_version'),
      c('run_id'),
      c('opened_at'),
      c('status'),
      c('failed', {
        struct: [c('step'), c('error_code'), c('error_name'), c('message'), c('attempts', 'int')],
      }),
      c('classification', { struct: [c('category'), c('http_status', 'int'), c('cause')] }),
      c('risk'),
      c('risk_reasons', { array: 'string' }),
      c('dangerous', 'boolean'),
      c('quarantined', 'boolean'),
      c('evidence_refs', { array: 'string' }),
      c('suggested_action'),
    ],
  },
];

/** Hive/Glue type text, e.g. struct<kind:string,id:string>. */
export function glueType(type: ColumnType): string {
  if (typeof type === 'string') return type;
  if ('array' in type) return `array<${glueType(type.array)}>`;
  return `struct<${type.struct.map((f) => `${f.name}:${glueType(f.type)}`).join(',')}>`;
}

/** DuckDB type text for reading the JSON (struct fields keep their JSON names). */
export function duckType(type: ColumnType): string {
  if (type === 'string') return 'VARCHAR';
  if (type === 'int') return 'INTEGER';
  if (type === 'bigint') return 'BIGINT';
  if (type === 'boolean') return 'BOOLEAN';
  if ('array' in type) return `${duckType(type.array)}[]`;
  return `STRUCT(${type.struct.map((f) => `"${f.json}" ${duckType(f.type)}`).join(', ')})`;
}
