import type { HttpImplementation, JobDefinition } from '../../../contracts';
import {
  DependencyError,
  errorForHttpStatus,
  JobFailedError,
  ValidationError,
} from '../../core/errors';
import type { JobContext, JobImplementation, JobResult } from '../types';
import type { SecretReader } from './ports';

/** What a template may name; anything else is a validation error naming the field. */
function templateValues(context: JobContext): Record<string, string> {
  const { run } = context;
  const values: Record<string, string> = {
    jobRunId: run.jobRunId,
    jobId: run.jobId,
    scheduledTime: run.scheduledTime,
    'window.start': run.window.start,
    'window.end': run.window.end,
  };
  for (const [name, value] of Object.entries({ ...context.job.params, ...run.params }))
    values[`params.${name}`] = typeof value === 'string' ? value : JSON.stringify(value);
  return values;
}

function render(
  template: string,
  field: string,
  values: Record<string, string>,
  secrets: Record<string, string> = {},
): string {
  return template.replace(/\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g, (_m, name: string) => {
    if (name.startsWith('secret.')) {
      const value = secrets[name.slice('secret.'.length)];
      if (value === undefined)
        throw new ValidationError(field, [
          { path: '', message: `{{${name}}} names no entry of implementation.secrets` },
        ]);
      return value;
    }
    const value = values[name];
    if (value === undefined)
      throw new ValidationError(field, [
        {
          path: '',
          message: `{{${name}}} is not a template value (jobRunId, jobId, scheduledTime, window.start, window.end, params.NAME)`,
        },
      ]);
    return value;
  });
}

/** At most `bytes` bytes of UTF-8, cut on a character boundary. */
export function excerpt(text: string, bytes: number): { text: string; truncated: boolean } {
  const buffer = Buffer.from(text, 'utf8');
  if (buffer.length <= bytes) return { text, truncated: false };
  let end = bytes;
  while (end > 0 && ((buffer[end] as number) & 0xc0) === 0x80) end--;
  return { text: buffer.subarray(0, end).toString('utf8'), truncated: true };
}

/**
 * One HTTP call (docs/writing-a-job.md#http-jobs). The answer's class decides what happens next, as
 * for any dependency (docs/failure-semantics.md#http-answers-from-a-dependency):
 * 400/401/403/404/422 fail at once, 5xx, timeouts and 429 are retried by the state machine with
 * backoff, a Retry-After honoured. Every attempt carries `Idempotency-Key: <jobRunId>`, so the far
 * end can make repeats one effect.
 */
export function httpJob(
  job: Pick<JobDefinition, 'jobId'>,
  spec: HttpImplementation,
  secretReader: SecretReader,
): JobImplementation {
  return {
    jobId: job.jobId,
    async run(context): Promise<JobResult> {
      const values = templateValues(context);
      const secrets: Record<string, string> = {};
      for (const [name, ref] of Object.entries(spec.secrets))
        secrets[name] = await secretReader.read(ref);
      const url = render(spec.url, `jobs.${job.jobId}.implementation.url`, values);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(spec.headers))
        headers[name] = render(
          value,
          `jobs.${job.jobId}.implementation.headers.${name}`,
          values,
          secrets,
        );
      headers['Idempotency-Key'] = context.run.jobRunId;
      const body =
        spec.body === undefined
          ? undefined
          : render(spec.body, `jobs.${job.jobId}.implementation.body`, values);
      const what = `${spec.method} ${url}`;
      const started = Date.now();
      let response: Response;
      let text: string;
      try {
        response = await fetch(url, {
          method: spec.method,
          headers,
          redirect: 'manual',
          signal: AbortSignal.timeout(spec.timeoutMs),
          ...(body === undefined ? {} : { body }),
        });
        text = await response.text();
      } catch (error) {
        if ((error as Error).name === 'TimeoutError')
          throw new JobFailedError('timeout', `${what} took longer than ${spec.timeoutMs} ms`, {
            cause: error,
          });
        throw new DependencyError(
          `${what} failed: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}`,
          { cause: error },
        );
      }
      const latencyMs = Date.now() - started;
      // A far end that echoes a credential must not put it in the evidence: the secret's own value
      // goes first, then the policy's patterns.
      let redacted = text;
      for (const value of Object.values(secrets))
        if (value)
          redacted = redacted.split(value).join(context.policy.settings.redaction.placeholder);
      const cut = excerpt(redacted, spec.excerptBytes);
      const ok = spec.expectStatus
        ? spec.expectStatus.includes(response.status)
        : response.status >= 200 && response.status < 300;
      if (!ok) {
        const error =
          response.status < 400
            ? new JobFailedError(
                'validation',
                `${what} answered ${response.status}, expected ${spec.expectStatus?.join(' or ') ?? '2xx'}`,
              )
            : errorForHttpStatus(
                response.status,
                what,
                response.headers.get('retry-after'),
                context.clock.now(),
              );
        context.log('http job answered an error', {
          status: response.status,
          excerpt: excerpt(cut.text, 512).text,
        });
        throw error;
      }
      const record = {
        method: spec.method,
        url,
        status: response.status,
        latencyMs,
        idempotencyKey: context.run.jobRunId,
        contentType: response.headers.get('content-type'),
        bodyBytes: Buffer.byteLength(text),
        excerpt: cut.text,
        truncated: cut.truncated,
      };
      return {
        quality: 'OK',
        outputs: [
          {
            name: 'response.json',
            contentType: 'application/json',
            body: `${JSON.stringify(record)}\n`,
          },
        ],
        integrityReport: null,
        diagnostics: [
          { level: 'info', code: 'http_status', message: String(response.status) },
          { level: 'info', code: 'latency_ms', message: String(latencyMs) },
        ],
      };
    },
  };
}
