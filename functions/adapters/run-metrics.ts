import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  APPROVAL_METRICS,
  ERROR_KIND_DIMENSION,
  METRIC_NAMESPACE,
  RUN_METRICS,
} from '../../contracts/metrics';
import type { RunMetrics, RunMetricsRecord } from '../core/ports';

/** Run metrics as CloudWatch EMF, through Powertools Metrics, flushed with each run. */
export class PowertoolsRunMetrics implements RunMetrics {
  constructor(
    private readonly serviceName: string,
    private readonly stage: string,
  ) {}

  record(run: RunMetricsRecord): void {
    const metrics = new Metrics({
      namespace: METRIC_NAMESPACE,
      serviceName: this.serviceName,
      defaultDimensions: { stage: this.stage, jobId: run.jobId },
    });
    metrics.addMetric(RUN_METRICS.completed, MetricUnit.Count, 1);
    metrics.addMetric(RUN_METRICS.succeeded, MetricUnit.Count, run.succeeded ? 1 : 0);
    metrics.addMetric(RUN_METRICS.failed, MetricUnit.Count, run.failed ? 1 : 0);
    metrics.addMetric(RUN_METRICS.refused, MetricUnit.Count, run.refused ? 1 : 0);
    metrics.addMetric(RUN_METRICS.retries, MetricUnit.Count, Math.max(0, run.attempts - 1));
    metrics.addMetric(RUN_METRICS.durationMs, MetricUnit.Milliseconds, run.durationMs);
    metrics.addMetric(
      RUN_METRICS.quarantineEntered,
      MetricUnit.Count,
      run.quarantineEntered ? 1 : 0,
    );
    metrics.publishStoredMetrics();
    if (run.failed && run.errorKind) {
      const byKind = new Metrics({
        namespace: METRIC_NAMESPACE,
        serviceName: this.serviceName,
        defaultDimensions: {
          stage: this.stage,
          jobId: run.jobId,
          [ERROR_KIND_DIMENSION]: run.errorKind,
        },
      });
      byKind.addMetric(RUN_METRICS.failed, MetricUnit.Count, 1);
      byKind.publishStoredMetrics();
    }
  }

  approval(event: keyof typeof APPROVAL_METRICS): void {
    const metrics = new Metrics({
      namespace: METRIC_NAMESPACE,
      serviceName: this.serviceName,
      defaultDimensions: { stage: this.stage },
    });
    metrics.addMetric(APPROVAL_METRICS[event], MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
  }
}

export const noRunMetrics: RunMetrics = { record: () => undefined, approval: () => undefined };
