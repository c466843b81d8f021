/**
 * Redaction before anything is stored or printed. Secrets may appear only as a secret_ref (an ARN),
 * which none of these patterns matches. The rules are in docs/redaction.md.
 */
import { sha256Hex } from './hashing';

export interface RedactionPolicy {
  placeholder: string;
  /** Extra regular expressions (sources) from policy. */
  patterns: string[];
}

export interface Redactor {
  text(value: string): string;
  /** Redacts every string inside a JSON-like value, object keys included; the shape is kept. */
  value<T>(value: T): T;
  /**
   * An actor or approver id as it may be stored: unchanged unless it holds a secret (an e-mail
   * address, say); then a stable pseudonym `[redacted-id:<16 hex of its SHA-256>]`, the same for
   * the same id everywhere, so stored ids still compare equal. Apply it to the normalised id.
   */
  id(value: string): string;
}

/** The built-in patterns, by name (tests feed one canary per name). */
export const BUILTIN_PATTERNS: Record<string, RegExp> = {
  // Header, body up to the next dashes, footer if there is one: a truncated key is still a secret,
  // and the body never spans another header (a lazy scan to a footer is quadratic when footers are
  // missing).
  private_key_block:
    /-----BEGIN [A-Z ]*PRIVATE KEY-----(?:(?!-----)[\s\S])*(?:-----END [A-Z ]*PRIVATE KEY-----)?/g,
  // The lookbehind starts a match only where a run of local-part characters starts: without it a
  // long run with no @ (a big output) is rescanned from every position, quadratic in its length.
  email: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g,
  github_token: /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g,
  openai_key: /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/g,
  slack_token: /\bxox[abposre]-[A-Za-z0-9-]{10,}/g,
  // Also when glued to other text (`AKIA…Error`, `KEY_AKIA…`): the 20 characters are the key.
  aws_access_key: /(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}/g,
  bearer_token: /\b[Bb]earer\s+[A-Za-z0-9._~+/-]{8,}=*/g,
};

/**
 * Long secret-looking strings (32+ alphanumerics, docs/redaction.md): a run of base64 characters
 * with upper and lower case letters and digits. Lowercase hex (SHA-256 and other digests) is
 * evidence, not a secret, and ids, keys and timestamps are broken up by separators, so neither is
 * touched.
 */
const LONG_SECRET = /[A-Za-z0-9+/]{32,}={0,2}/g;
const looksSecret = (s: string): boolean => /[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s);

/**
 * URL-encoded text (`a%40b.com`, `Bearer%20…`, a form's `Bearer+…`): a maximal run of the
 * characters encodeURIComponent leaves, plus `%` and `+`. The lookbehind starts a match only where
 * a run starts, so each run is scanned once (linear); only runs holding a `%XX` escape or a `+` are
 * decoded.
 */
const URL_RUN = /(?<![A-Za-z0-9._~!*'()%+-])[A-Za-z0-9._~!*'()%+-]+/g;
const ESCAPES = /(?:%[0-9A-Fa-f]{2})+/g;

/** Decodes every valid escape sequence (a broken one stays as it is), up to three levels deep. */
function urlDecode(run: string): string {
  let out = run;
  for (let level = 0; level < 3 && /%[0-9A-Fa-f]{2}/.test(out); level++) {
    out = out.replace(ESCAPES, (sequence) => {
      try {
        return decodeURIComponent(sequence);
      } catch {
        return sequence;
      }
    });
  }
  return out;
}

export function createRedactor(policy: RedactionPolicy): Redactor {
  const custom = policy.patterns.map((source) => new RegExp(source, 'g'));
  const { placeholder } = policy;
  const plain = (input: string): string => {
    let out = input;
    for (const pattern of [...Object.values(BUILTIN_PATTERNS), ...custom])
      out = out.replace(pattern, placeholder);
    return out.replace(LONG_SECRET, (match) => (looksSecret(match) ? placeholder : match));
  };
  // A run that hides a secret once decoded is written back encoded, with the secret replaced.
  const encoded = (run: string): string => {
    if (!/%[0-9A-Fa-f]{2}|\+/.test(run)) return run;
    for (const decoded of [urlDecode(run), urlDecode(run.replace(/\+/g, ' '))]) {
      if (decoded === run) continue; // nothing encoded: the plain pass sees it as it is
      const redacted = plain(decoded);
      if (redacted !== decoded)
        return redacted.split(placeholder).map(encodeURIComponent).join(placeholder);
    }
    return run;
  };
  const text = (input: string): string =>
    plain(/[%+]/.test(input) ? input.replace(URL_RUN, encoded) : input);
  const value = <T>(input: T): T => {
    if (typeof input === 'string') return text(input) as T;
    if (Array.isArray(input)) return input.map((v) => value(v)) as T;
    if (input && typeof input === 'object' && Object.getPrototypeOf(input) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
        // Keys are redacted too; two keys redacted alike both stay (numbered), nothing is dropped.
        let key = text(k);
        for (let n = 2; key !== k && Object.hasOwn(out, key); n++) key = `${text(k)}#${n}`;
        out[key] = value(v);
      }
      return out as T;
    }
    return input;
  };
  const id = (input: string): string =>
    text(input) === input ? input : `[redacted-id:${sha256Hex(input).slice(0, 16)}]`;
  return { text, value, id };
}

/**
 * Redacts an error's name, message and stack in place: Lambda reports them to Step Functions and
 * the logs.
 */
export function redactError<E>(error: E, redactor: Redactor): E {
  if (error instanceof Error) {
    const name = redactor.text(error.name);
    if (name !== error.name) error.name = name;
    error.message = redactor.text(error.message);
    if (error.stack) error.stack = redactor.text(error.stack);
  }
  return error;
}
