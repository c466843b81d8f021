/** One canary secret per pattern the issue names, plus one for a custom policy pattern. */
const PLAIN_CANARIES: Record<string, string> = {
  email: 'oncall.person@example.com',
  github_token: 'ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
  github_pat: 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz',
  github_oauth: 'gho_abcdefghijklmnopqrstuvwxyz0123456789',
  github_server: 'ghs_ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210',
  github_user: 'ghu_0123456789abcdefghijABCDEFGHIJklmnop',
  openai_key: 'sk-proj-AbCdEfGh1234567890IjKlMnOpQrStUvWx',
  slack_token: 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
  aws_access_key: 'AKIAIOSFODNN7EXAMPLE',
  aws_session_key: 'ASIAY34FZKBOKMUTVV7A',
  bearer_token: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig-nature_value',
  private_key:
    '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq0x\nabcdEFGH==\n-----END RSA PRIVATE KEY-----',
  long_secret: 'Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZkdISUpL',
  custom: 'INTERNAL-TICKET-SECRET-4242',
};

export const CUSTOM_PATTERN = 'INTERNAL-TICKET-SECRET-\\d+';

/**
 * A canary as it travels in a URL or a form: encodeURIComponent where that changes it (`%40`,
 * `Bearer%20`, `%0A`), otherwise every byte escaped (`%67%68%70…`), which decodes to the same text.
 */
export function urlEncoded(canary: string): string {
  const encoded = encodeURIComponent(canary);
  return encoded !== canary
    ? encoded
    : [...new TextEncoder().encode(canary)]
        .map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`)
        .join('');
}

/** Every canary, plain and URL-encoded (`<name>_urlencoded`). */
export const CANARIES: Record<string, string> = {
  ...PLAIN_CANARIES,
  ...Object.fromEntries(
    Object.entries(PLAIN_CANARIES).map(([name, canary]) => [
      `${name}_urlencoded`,
      urlEncoded(canary),
    ]),
  ),
};
