import { DependencyError } from '../core/errors';

/**
 * What the in-memory stores share: values are stored and returned as copies, shaped as the DynamoDB
 * document client stores them (undefined dropped from maps and lists, functions in maps skipped),
 * so a caller that mutates what it wrote or read changes nothing stored, and a test cannot pass by
 * aliasing.
 */
export function stored<T>(value: T, options: { undefinedValues?: 'remove' | 'refuse' } = {}): T {
  return copy(value, options.undefinedValues ?? 'remove', '') as T;
}

function copy(value: unknown, undefinedValues: 'remove' | 'refuse', path: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    // DynamoDB numbers are finite.
    if (!Number.isFinite(value))
      throw new TypeError(`${path || 'value'}: ${value} is not a number DynamoDB can store`);
    return value;
  }
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) {
    if (undefinedValues === 'refuse' && value.includes(undefined))
      throw new TypeError(`${path || 'value'}: undefined in a list`);
    return value
      .filter((v) => v !== undefined)
      .map((v, i) => copy(v, undefinedValues, `${path}[${i}]`));
  }
  if (
    typeof value === 'object' &&
    (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)
  ) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'function') continue;
      if (v === undefined) {
        if (undefinedValues === 'refuse')
          throw new TypeError(`${path}${path ? '.' : ''}${k}: undefined`);
        continue;
      }
      out[k] = copy(v, undefinedValues, `${path}${path ? '.' : ''}${k}`);
    }
    return out;
  }
  // The document client refuses class instances (a Date, a Map) without convertClassInstanceToMap.
  throw new TypeError(
    `${path || 'value'}: a ${Object.prototype.toString.call(value)} is not a value DynamoDB stores`,
  );
}

/**
 * DynamoDB orders sort keys (and compares strings) by their UTF-8 bytes, not by UTF-16 code units.
 */
export const byteOrder = (a: string, b: string): number =>
  Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
export const byteLess = (a: string, b: string): boolean => byteOrder(a, b) < 0;

/**
 * An unconditional-looking write whose item must exist and does not: DynamoDB answers
 * ConditionalCheckFailedException, which the adapters' call wrapper turns into a DependencyError.
 */
export function conditionFailed(operation: string): DependencyError {
  const cause = Object.assign(new Error('The conditional request failed'), {
    name: 'ConditionalCheckFailedException',
  });
  return new DependencyError(
    `${operation} failed: ConditionalCheckFailedException: The conditional request failed`,
    { cause },
  );
}
