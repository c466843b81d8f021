import { deferred } from './deferred';
import * as z from 'zod';

/**
 * Which verified claim of the sign-in token names the approver in `approversByOpKind`
 * (docs/approval-sign-in.md).
 */
export const IdentityClaim = deferred(() => z.enum(['email', 'sub']));

const httpsUrl = deferred(() => z.url({ protocol: /^https$/ }));

/**
 * Who signs approvers in for the approval page (policy `approvals.identity`). Absent: `cognito` in
 * an AWS stage (a user pool the stack creates, whose managed login can federate to a company IdP),
 * `local` (the stand-in IdP under $OPSRAIL_HOME) in the local stage.
 */
export const ApprovalIdentityPolicy = deferred(() =>
  z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('cognito'),
      claim: IdentityClaim.default('email'),
      /**
       * The managed login domain's prefix (`<prefix>.auth.<region>.amazoncognito.com`); default
       * `opsrail-<stage>-<account>`.
       */
      domainPrefix: z
        .string()
        .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'lowercase letters, digits and hyphens')
        .optional(),
    }),
    z.strictObject({
      kind: z.literal('oidc'),
      claim: IdentityClaim.default('email'),
      issuer: httpsUrl,
      clientId: z.string().min(1),
      authorizationEndpoint: httpsUrl,
      tokenEndpoint: httpsUrl,
      jwksUri: httpsUrl,
      /**
       * A confidential client's secret, by its secret_ref (a Secrets Manager ARN); never the secret
       * itself.
       */
      clientSecretRef: z
        .string()
        .regex(/^arn:aws[a-z-]*:secretsmanager:/, 'a Secrets Manager ARN (secret_ref)')
        .optional(),
    }),
    z.strictObject({ kind: z.literal('local'), claim: z.literal('sub').default('sub') }),
  ]),
);
export type ApprovalIdentityPolicy = z.infer<typeof ApprovalIdentityPolicy>;

/**
 * What the approval endpoint needs to sign an approver in, passed as JSON in APPROVAL_SIGN_IN (CDK
 * builds it; the local stack derives it from the link base URL). For the stack's own Cognito user
 * pool the client id is looked up by `clientName` in `userPoolId` at cold start (the client's
 * callback URL is the page's Function URL, so the function cannot be given the id without a
 * dependency cycle).
 */
export const SignInSettings = deferred(() =>
  z.strictObject({
    kind: z.enum(['cognito', 'oidc', 'local']),
    claim: IdentityClaim,
    issuer: z.string().min(1),
    clientId: z.string().min(1).optional(),
    userPoolId: z.string().min(1).optional(),
    clientName: z.string().min(1).optional(),
    authorizationEndpoint: z.string().min(1),
    tokenEndpoint: z.string().min(1),
    jwksUri: z.string().min(1),
    clientSecretRef: z.string().min(1).optional(),
  }),
);
export type SignInSettings = z.infer<typeof SignInSettings>;

const StringMap = deferred(() => z.record(z.string().max(256), z.string().max(16_384)));

/**
 * A browser's decision, passed on by the page function (which may not resolve tasks) to the
 * decision function, which verifies the token and the CSRF token itself: it trusts nothing the page
 * says.
 */
export const ForwardedDecision = deferred(() =>
  z.strictObject({
    forwardedDecision: z.strictObject({
      method: z.literal('POST'),
      path: z.string().max(512),
      query: StringMap,
      form: StringMap,
      cookies: StringMap,
      origin: z.string().max(512),
      userAgent: z.string().max(2048).nullable(),
      /** The browser's body size: an oversized one arrives without its form and is refused (413). */
      bodyBytes: z.number().int().min(0).optional(),
    }),
  }),
);
export type ForwardedDecision = z.infer<typeof ForwardedDecision>;

/**
 * The decision function's answer to a forwarded decision: the page to send back (a Function URL
 * result).
 */
export const ForwardedResponse = deferred(() =>
  z.strictObject({
    statusCode: z.number().int(),
    headers: z.record(z.string(), z.string()),
    body: z.string(),
    cookies: z.array(z.string()),
  }),
);
