import { SignInSettings, type HandlerEnv } from '../../contracts';
import { tokenVerifier, type ResolvedSignIn } from '../approval-endpoint/sign-in';
import type { SignIn } from '../approval-endpoint/http';
import { ConfigurationError, zodIssues } from '../core/errors';
import { wrapAwsError } from './aws-errors';
import { readSecret } from './approval-adapters';
import { sdk } from './aws-sdk';

/** The local stand-in IdP's settings: it is served by the local approval server under /idp. */
export function localSignInSettings(linkBaseUrl: string): ResolvedSignIn {
  const issuer = `${new URL(linkBaseUrl).origin}/idp`;
  return {
    kind: 'local',
    claim: 'sub',
    issuer,
    clientId: 'opsrail-local',
    authorizationEndpoint: `${issuer}/authorize`,
    tokenEndpoint: `${issuer}/token`,
    jwksUri: `${issuer}/jwks.json`,
  };
}

/** The stack's own app client, found by its name in the user pool (see SignInSettings). */
async function cognitoClientId(settings: SignInSettings, region: string): Promise<string> {
  if (settings.clientId) return settings.clientId;
  if (!settings.userPoolId || !settings.clientName)
    throw new ConfigurationError(
      'APPROVAL_SIGN_IN: a cognito setting needs clientId, or userPoolId and clientName',
    );
  let next: string | undefined;
  try {
    const { CognitoIdentityProviderClient, ListUserPoolClientsCommand } = await sdk.cognito();
    const cognito = new CognitoIdentityProviderClient({ region });
    do {
      const page = await cognito.send(
        new ListUserPoolClientsCommand({
          UserPoolId: settings.userPoolId,
          MaxResults: 60,
          NextToken: next,
        }),
      );
      const found = page.UserPoolClients?.find((c) => c.ClientName === settings.clientName);
      if (found?.ClientId) return found.ClientId;
      next = page.NextToken;
    } while (next);
  } catch (error) {
    throw wrapAwsError(`Cognito ListUserPoolClients ${settings.userPoolId}`, error);
  }
  throw new ConfigurationError(
    `no app client named ${settings.clientName} in user pool ${settings.userPoolId}`,
  );
}

/**
 * How the approval page signs approvers in: APPROVAL_SIGN_IN (set by CDK) in AWS, the stand-in IdP
 * on the local stack, none otherwise (the page then only shows; decisions come through the IAM
 * URL).
 */
export async function resolveSignIn(env: HandlerEnv, linkBaseUrl: string): Promise<SignIn | null> {
  let settings: ResolvedSignIn;
  if (env.APPROVAL_SIGN_IN) {
    let raw: unknown;
    try {
      raw = JSON.parse(env.APPROVAL_SIGN_IN);
    } catch {
      throw new ConfigurationError('APPROVAL_SIGN_IN is not JSON');
    }
    const parsed = SignInSettings.safeParse(raw);
    if (!parsed.success)
      throw new ConfigurationError(
        `APPROVAL_SIGN_IN: ${zodIssues(parsed.error)
          .map((i) => `${i.path}: ${i.message}`)
          .join('; ')}`,
      );
    const clientId = await cognitoClientId(parsed.data, env.AWS_REGION);
    const secretRef = parsed.data.clientSecretRef;
    const { SecretsManagerClient } = await sdk.secretsManager();
    const clientSecret = secretRef
      ? await readSecret(new SecretsManagerClient({ region: env.AWS_REGION }), secretRef)
      : undefined;
    settings = { ...parsed.data, clientId, ...(clientSecret ? { clientSecret } : {}) };
  } else if (env.OPSRAIL_STAGE === 'local') {
    settings = localSignInSettings(linkBaseUrl);
  } else {
    return null;
  }
  return { settings, verifier: tokenVerifier(settings) };
}
