import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  APPROVAL_METRICS,
  ERROR_KIND_DIMENSION,
  METRIC_NAMESPACE,
  RUN_METRICS,
  TICK_METRICS,
} from '../../contracts/metrics';
import { runRetries } from '../core/kpis';
import type { RunMetrics, RunMetricsRecord } from '../core/ports';

/** Run metrics as CloudWatch EMF, through Powertools Metrics, flushed with each run. */
export class PowertoolsRunMetrics implements RunMetrics {
  constructor(
    private readonly serviceName: string,
    private readonly stage: string,
  ) {}

  /**
   * Three EMF records at most: the stage's run metrics (the job's id as a property), the one
   * per-job metric the dead-man's switch needs, and a failure by error class.
   */
  record(run: RunMetricsRecord): void {
    const stage = this.metrics({ stage: this.stage });
    stage.addMetadata('jobId', run.jobId);
    stage.addMetric(RUN_METRICS.completed, MetricUnit.Count, 1);
    stage.addMetric(RUN_METRICS.succeeded, MetricUnit.Count, run.succeeded ? 1 : 0);
    stage.addMetric(RUN_METRICS.failed, MetricUnit.Count, run.failed ? 1 : 0);
    stage.addMetric(RUN_METRICS.refused, MetricUnit.Count, run.refused ? 1 : 0);
    stage.addMetric(RUN_METRICS.retries, MetricUnit.Count, runRetries(run.attempts));
    stage.addMetric(RUN_METRICS.durationMs, MetricUnit.Milliseconds, run.durationMs);
    stage.addMetric(RUN_METRICS.quarantineEntered, MetricUnit.Count, run.quarantineEntered ? 1 : 0);
    stage.publishStoredMetrics();
    // The one per-job metric (PER_JOB_METRICS), which the dead-man's switch alarms on.
    const perJob = this.metrics({ stage: this.stage, jobId: run.jobId });
    perJob.addMetric(RUN_METRICS.succeeded, MetricUnit.Count, run.succeeded ? 1 : 0);
    perJob.publishStoredMetrics();
    if (run.failed && run.errorKind) {
      const byKind = this.metrics({ stage: this.stage, [ERROR_KIND_DIMENSION]: run.errorKind });
      byKind.addMetadata('jobId', run.jobId);
      byKind.addMetric(RUN_METRICS.failed, MetricUnit.Count, 1);
      byKind.publishStoredMetrics();
    }
  }

  private metrics(defaultDimensions: Record<string, string>): Metrics {
    return new Metrics({
      namespace: METRIC_NAMESPACE,
      serviceName: this.serviceName,
      defaultDimensions,
    });
  }

  /** Per stage, the job's id a property: never a per-job dimension (docs/observability.md). */
  tick(event: keyof typeof TICK_METRICS, jobId: string): void {
    const metrics = this.metrics({ stage: this.stage });
    metrics.addMetadata('jobId', jobId);
    metrics.addMetric(TICK_METRICS[event], MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
  }

  approval(event: keyof typeof APPROVAL_METRICS): void {
    const metrics = this.metrics({ stage: this.stage });
    metrics.addMetric(APPROVAL_METRICS[event], MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
  }
}

export const noRunMetrics: RunMetrics = {
  record: () => undefined,
  tick: () => undefined,
  approval: () => undefined,
};
