import { Stage } from '../contracts';
import { directoryPolicySource } from '../functions/adapters/policy-sources';
import { loadPolicy } from '../functions/core/policy';
import { createRedactor, type Redactor } from '../functions/core/redaction';

/**
 * The redactor for what the CLI prints: the built-in patterns and the patterns of every stage's
 * policy that loads (a command may act on any stage; an invalid policy is reported by the command
 * itself).
 */
export function cliRedactor(policyDir: string): Redactor {
  const patterns = new Set<string>();
  let placeholder = '[REDACTED]';
  for (const stage of Stage.options) {
    try {
      const { redaction } = loadPolicy(directoryPolicySource(policyDir), stage).settings;
      for (const pattern of redaction.patterns) patterns.add(pattern);
      if (stage === 'local') placeholder = redaction.placeholder;
    } catch {
      // not loadable: its patterns are unknown; the built-in ones still apply
    }
  }
  return createRedactor({ placeholder, patterns: [...patterns] });
}

let installed = false;

/**
 * Every line this process writes to stdout or stderr passes the redactor first (docs/redaction.md).
 */
export function redactProcessOutput(redactor: Redactor): void {
  if (installed) return;
  installed = true;
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: string, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return write(redactor.text(text), ...rest);
    }) as typeof stream.write;
  }
}
