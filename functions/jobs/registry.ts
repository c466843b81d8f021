import { endpointHealthCheck } from './endpoint-health-check';
import { endpointLatencyMonitor } from './endpoint-latency-monitor';
import { weeklyHealthReport } from './weekly-health-report';
import { evidenceIntegrityCheck } from './evidence-integrity-check';
import { scheduleLedger } from './schedule-ledger';
import { datasetExportJob } from './dataset-export';
import {
  dailyObservabilityReport,
  weeklyImprovementDigest,
  weeklyObservabilityReport,
} from './reports';
import { lazyS3ExportCopier } from '../adapters/export-copier';
import {
  killSwitchRelease,
  quarantineRelease,
  runRecordRetention,
  safetyRelax,
} from './control-jobs';
import { registryOf } from './registry-of';
import type { JobImplementation, JobRegistry } from './types';

export const builtinJobs: readonly JobImplementation[] = [
  evidenceIntegrityCheck,
  endpointHealthCheck,
  endpointLatencyMonitor,
  weeklyHealthReport,
  scheduleLedger,
  runRecordRetention,
  quarantineRelease,
  killSwitchRelease,
  safetyRelax,
  datasetExportJob(lazyS3ExportCopier()),
  dailyObservabilityReport,
  weeklyObservabilityReport,
  weeklyImprovementDigest,
];

/** The built-in jobs plus a user's own; a job id may be implemented once. */
export function jobRegistry(extra: readonly JobImplementation[] = []): JobRegistry {
  return registryOf([...builtinJobs, ...extra]);
}
