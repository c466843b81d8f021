import { EndpointHealthCheckParams } from '../../contracts';
import { DependencyError, errorForHttpStatus, JobFailedError } from '../core/errors';
import type { JobContext, JobImplementation, JobResult } from './types';

/**
 * One GET of the configured endpoint. The answer's HTTP class decides what happens next
 * (docs/failure-semantics.md#http-answers-from-a-dependency): the typed error it throws is what the
 * ASL's Retry matches, so 4xx fail at once and 429/5xx/timeouts are retried with backoff and
 * jitter, a Retry-After included.
 */
async function probe(context: JobContext): Promise<JobResult> {
  const params = EndpointHealthCheckParams.parse(context.job.params);
  const started = Date.now();
  let response: Response;
  try {
    response = await fetch(params.url, {
      method: 'GET',
      redirect: 'manual',
      signal: AbortSignal.timeout(params.timeoutMs),
    });
  } catch (error) {
    if ((error as Error).name === 'TimeoutError')
      throw new JobFailedError(
        'timeout',
        `GET ${params.url} took longer than ${params.timeoutMs} ms`,
        { cause: error },
      );
    throw new DependencyError(
      `GET ${params.url} failed: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}`,
      { cause: error },
    );
  }
  await response.body?.cancel();
  const latencyMs = Date.now() - started;
  if (response.status !== params.expectStatus) {
    if (response.status >= 200 && response.status < 400)
      throw new JobFailedError(
        'validation',
        `GET ${params.url} answered ${response.status}, expected ${params.expectStatus}`,
      );
    throw errorForHttpStatus(
      response.status,
      `GET ${params.url}`,
      response.headers.get('retry-after'),
      context.clock.now(),
    );
  }
  return {
    quality: 'OK',
    outputs: [
      {
        name: 'probe.json',
        contentType: 'application/json',
        body: `${JSON.stringify({ url: params.url, status: response.status, latencyMs })}\n`,
      },
    ],
    integrityReport: null,
    diagnostics: [{ level: 'info', code: 'latency_ms', message: String(latencyMs) }],
  };
}

export const endpointHealthCheck: JobImplementation = {
  jobId: 'endpoint_health_check',
  run: probe,
};
