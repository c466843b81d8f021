/**
 * Redaction before anything is stored or printed (seed 001, seed 004 sanitizer, seed 000 "no secrets").
 * Secrets may appear only as a secret_ref (an ARN), which none of these patterns matches.
 */
export interface RedactionPolicy {
  placeholder: string;
  /** Extra regular expressions (sources) from policy. */
  patterns: string[];
}

export interface Redactor {
  text(value: string): string;
  /** Redacts every string inside a JSON-like value; the shape is kept. */
  value<T>(value: T): T;
}

/** The built-in patterns, by name (tests feed one canary per name). */
export const BUILTIN_PATTERNS: Record<string, RegExp> = {
  // Header, body up to the next dashes, footer if there is one: a truncated key is still a secret, and
  // the body never spans another header (a lazy scan to a footer is quadratic when footers are missing).
  private_key_block: /-----BEGIN [A-Z ]*PRIVATE KEY-----(?:(?!-----)[\s\S])*(?:-----END [A-Z ]*PRIVATE KEY-----)?/g,
  // The lookbehind starts a match only where a run of local-part characters starts: without it a long
  // run with no @ (a big output) is rescanned from every position, quadratic in its length.
  email: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g,
  github_token: /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g,
  openai_key: /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/g,
  slack_token: /\bxox[abposre]-[A-Za-z0-9-]{10,}/g,
  aws_access_key: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g,
  bearer_token: /\b[Bb]earer\s+[A-Za-z0-9._~+/-]{8,}=*/g,
};

/**
 * Long secret-looking strings (seed 001: 32+ alphanumerics): a run of base64 characters with upper
 * and lower case letters and digits. Lowercase hex (SHA-256 and other digests) is evidence, not a
 * secret, and ids, keys and timestamps are broken up by separators, so neither is touched.
 */
const LONG_SECRET = /[A-Za-z0-9+/]{32,}={0,2}/g;
const looksSecret = (s: string): boolean => /[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s);

export function createRedactor(policy: RedactionPolicy): Redactor {
  const custom = policy.patterns.map((source) => new RegExp(source, 'g'));
  const text = (input: string): string => {
    let out = input;
    for (const pattern of [...Object.values(BUILTIN_PATTERNS), ...custom]) out = out.replace(pattern, policy.placeholder);
    return out.replace(LONG_SECRET, (match) => (looksSecret(match) ? policy.placeholder : match));
  };
  const value = <T>(input: T): T => {
    if (typeof input === 'string') return text(input) as T;
    if (Array.isArray(input)) return input.map((v) => value(v)) as T;
    if (input && typeof input === 'object' && Object.getPrototypeOf(input) === Object.prototype) {
      return Object.fromEntries(Object.entries(input as Record<string, unknown>).map(([k, v]) => [k, value(v)])) as T;
    }
    return input;
  };
  return { text, value };
}

/** Redacts an error's message and stack in place: Lambda reports both to Step Functions and the logs. */
export function redactError<E>(error: E, redactor: Redactor): E {
  if (error instanceof Error) {
    error.message = redactor.text(error.message);
    if (error.stack) error.stack = redactor.text(error.stack);
  }
  return error;
}
