import type { JobDefinition } from '../../../contracts';
import { PermissionError } from '../errors';
import type { EvidenceStore } from '../ports';

/**
 * The evidence a job's own code may touch, as its function's role allows in AWS
 * (docs/writing-a-job.md#permissions): reading needs `evidence` in capabilities.reads or writes,
 * writing needs it in capabilities.writes (or `exports` there, for keys under `stage=…/exports/`
 * only). Here the same rule holds in-process, so a job that
 * declares too little fails locally as it would in AWS (AccessDenied there: PermissionError).
 */
export function evidenceAsDeclared(job: JobDefinition, evidence: EvidenceStore): EvidenceStore {
  const { reads, writes } = job.capabilities;
  const mayWrite = writes.includes('evidence');
  // `exports`: writing under the stage's exports/ prefix only (dataset_export, docs/exports.md).
  const mayWriteExports = writes.includes('exports');
  const isExportKey = (key: string) => /^stage=[^/]+\/exports\//.test(key);
  const mayRead = mayWrite || mayWriteExports || reads.includes('evidence');
  const refuse = (what: string, capability: string) =>
    Promise.reject(
      new PermissionError(
        `job '${job.jobId}' may not ${what} evidence: it does not declare 'evidence' in ${capability} (docs/writing-a-job.md#permissions)`,
      ),
    );
  return {
    getObject: (key) => (mayRead ? evidence.getObject(key) : refuse('read', 'capabilities.reads')),
    list: (prefix) => (mayRead ? evidence.list(prefix) : refuse('list', 'capabilities.reads')),
    putObject: (key, body, contentType) =>
      mayWrite || (mayWriteExports && isExportKey(key))
        ? evidence.putObject(key, body, contentType)
        : refuse(
            mayWriteExports ? `write outside exports/ (${key}) in` : 'write',
            'capabilities.writes',
          ),
  };
}
