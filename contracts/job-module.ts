import { deferred } from './deferred';
import * as z from 'zod';
import { SecretRef } from './common';

/**
 * Where a job's behaviour comes from (catalog `implementation`, docs/writing-a-job.md). Absent: one
 * of opsrail's built-in jobs when its id is one, else a module `<jobId>.ts` in the jobs directory.
 */
export const ModuleImplementation = deferred(() =>
  z.strictObject({
    kind: z.literal('module'),
    /**
     * The module's path inside the jobs directory (default `<jobId>.ts`); it default-exports
     * `defineJob(...)`.
     */
    module: z
      .string()
      .regex(
        /^[A-Za-z0-9_][A-Za-z0-9_./-]*\.(ts|mts|js|mjs)$/,
        'must be a .ts/.mts/.js/.mjs path inside the jobs directory',
      )
      .refine((p) => !p.split('/').includes('..'), 'must stay inside the jobs directory (no ..)')
      .optional(),
  }),
);

/** Headers a template may not set: they are opsrail's (the idempotency key) or the transport's. */
const RESERVED_HEADERS = new Set([
  'idempotency-key',
  'host',
  'content-length',
  'connection',
  'transfer-encoding',
]);

export const HttpMethod = deferred(() => z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']));

/**
 * A job that is one HTTP call. `url`, header values and `body` are templates: `{{jobRunId}}`,
 * `{{jobId}}`, `{{window.start}}`, `{{window.end}}`, `{{scheduledTime}}`, `{{params.NAME}}`, and in
 * header values only `{{secret.NAME}}` (a value read at run time from `secrets.NAME`, a secret_ref;
 * never stored, never logged). Every call carries `Idempotency-Key: <jobRunId>`.
 */
export const HttpImplementation = deferred(() =>
  z.strictObject({
    kind: z.literal('http'),
    method: HttpMethod.default('POST'),
    url: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL (templates allowed)')
      .refine(
        (url) => !url.includes('{{secret.'),
        'secrets go in headers only, never in a URL (URLs are logged and evidenced)',
      ),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9-]+$/, 'must be a header name'), z.string())
      .default({})
      .superRefine((headers, ctx) => {
        for (const name of Object.keys(headers)) {
          if (RESERVED_HEADERS.has(name.toLowerCase()))
            ctx.addIssue({
              code: 'custom',
              path: [name],
              message: `'${name}' is set by opsrail, not by the catalog`,
            });
        }
      }),
    body: z
      .string()
      .max(64 * 1024)
      .refine((body) => !body.includes('{{secret.'), 'secrets go in headers only, never in a body')
      .optional(),
    /**
     * Credentials by reference only: name → Secrets Manager ARN, used as `{{secret.NAME}}` in
     * headers.
     */
    secrets: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/), SecretRef).default({}),
    /** Answers that count as success (default: any 2xx). */
    expectStatus: z.array(z.number().int().min(100).max(599)).min(1).optional(),
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    /** How much of the answer's body (after redaction) goes to the outputs. */
    excerptBytes: z
      .number()
      .int()
      .min(0)
      .max(16 * 1024)
      .default(2048),
  }),
);
export type HttpImplementation = z.infer<typeof HttpImplementation>;

export const LambdaImplementation = deferred(() =>
  z.strictObject({
    kind: z.literal('lambda'),
    /** The existing function to invoke (an unqualified or qualified ARN). */
    functionArn: z
      .string()
      .regex(
        /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$/,
        'must be a Lambda function ARN',
      ),
  }),
);
export type LambdaImplementation = z.infer<typeof LambdaImplementation>;

export const JobImplementationSpec = deferred(() =>
  z.discriminatedUnion('kind', [ModuleImplementation, HttpImplementation, LambdaImplementation]),
);
export type JobImplementationSpec = z.infer<typeof JobImplementationSpec>;

/**
 * Locally, a `lambda` job calls this instead of the ARN (stage `local` only): a module exporting
 * `handler`, or a URL answering like Lambda's Invoke API.
 */
export const LambdaStandIn = deferred(() =>
  z.union([
    z.strictObject({ module: z.string().min(1) }),
    z.strictObject({
      url: z
        .string()
        .regex(
          /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?(\/\S*)?$/,
          'must be a local http URL (127.0.0.1 or localhost)',
        ),
    }),
  ]),
);
export type LambdaStandIn = z.infer<typeof LambdaStandIn>;

/**
 * IAM statements a job declares for its own code, granted to its function's role and to nothing
 * else (docs/writing-a-job.md#permissions).
 */
export const JobIamStatement = deferred(() =>
  z
    .strictObject({
      actions: z
        .array(z.string().regex(/^[a-z0-9-]+:[A-Za-z0-9*]+$/, 'must be service:Action'))
        .min(1),
      resources: z.array(z.string().min(1)).min(1),
      /**
       * Why the job needs it. Required when an action or a resource has a wildcard: it is the reason
       * of the cdk-nag acknowledgement (AwsSolutions-IAM5) of that wildcard, on this job's role only.
       */
      reason: z.string().min(10).optional(),
    })
    .superRefine((statement, ctx) => {
      const wildcard = [...statement.actions, ...statement.resources].some((x) => x.includes('*'));
      if (wildcard && !statement.reason)
        ctx.addIssue({
          code: 'custom',
          path: ['reason'],
          message:
            'is required when an action or a resource has a wildcard (*): say why the job needs it',
        });
    }),
);
export type JobIamStatement = z.infer<typeof JobIamStatement>;
