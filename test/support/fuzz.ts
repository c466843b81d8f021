import fc from 'fast-check';

/**
 * Arbitraries for property-based tests of event handlers: events a little or a lot away from a
 * valid template, so most of them are malformed in one field while the rest of the event still
 * looks right.
 */

type Path = (string | number)[];

/**
 * Strings that have broken parsers, stores or logs before: empty, huge, control characters,
 * lookalikes.
 */
export const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\n\r\t',
  'x'.repeat(5000),
  '\ud800',
  '😀'.repeat(40),
  '../../etc/passwd',
  'a/b',
  '%40%2F%00',
  'Bearer%20abcdefghijklmnopqrstuvwxyz0123456789',
  "'; DROP TABLE runs; --",
  '{"jobId":"x"}',
  'null',
  'NaN',
  '__proto__',
  'constructor',
  '2026-13-01T00:00:00Z',
  '2026-02-30T25:61:00Z',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '2026-01-01T00:00:00+14:00',
  '2026-01-01',
  'States.ALL',
  'arn:aws:states:us-east-1:000000000000:execution:x:y',
];

/** Values of any type, most of them the wrong type for the field they replace. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(...HOSTILE_STRINGS),
  fc.constantFrom<unknown>(
    null,
    undefined,
    true,
    false,
    0,
    -1,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    2 ** 53 + 2,
    [],
    {},
    [[]],
    { '': 'x' },
  ),
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 3 }),
  fc.anything({ maxDepth: 2 }),
  fc.date({ noInvalidDate: false }),
  fc.bigInt(),
);

/** Every path of a JSON value (the root included), so a mutation can land anywhere. */
export function pathsOf(value: unknown, prefix: Path = []): Path[] {
  const here = [prefix];
  if (Array.isArray(value))
    return [...here, ...value.flatMap((v, i) => pathsOf(v, [...prefix, i]))];
  if (value && typeof value === 'object')
    return [...here, ...Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...prefix, k]))];
  return here;
}

/** Paths whose value is a string: the type-preserving mutations of well-formed events. */
export const stringPathsOf = (value: unknown): Path[] =>
  pathsOf(value).filter((p) => typeof getAt(value, p) === 'string');

function getAt(value: unknown, path: Path): unknown {
  return path.reduce<unknown>(
    (v, k) => (v && typeof v === 'object' ? (v as Record<string | number, unknown>)[k] : undefined),
    value,
  );
}

const DELETE = Symbol('delete');
type Mutation =
  | { path: Path; value: unknown }
  | { path: Path; value: typeof DELETE }
  | { path: Path; addKey: string; value: unknown };

/**
 * A copy of `value` with the mutation applied (a mutation below a removed or replaced node is a
 * no-op).
 */
function apply(value: unknown, mutation: Mutation): unknown {
  const copy = structuredClone(value);
  if (mutation.path.length === 0 && !('addKey' in mutation))
    return mutation.value === DELETE ? undefined : mutation.value;
  const parentPath = 'addKey' in mutation ? mutation.path : mutation.path.slice(0, -1);
  const parent = getAt(copy, parentPath);
  if (!parent || typeof parent !== 'object') return copy;
  const record = parent as Record<string | number, unknown>;
  // An own property, as JSON.parse makes it (even for '__proto__'), never a change of prototype.
  if ('addKey' in mutation)
    Object.defineProperty(record, mutation.addKey, {
      value: mutation.value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  else if (mutation.value === DELETE) {
    if (Array.isArray(parent)) parent.splice(mutation.path.at(-1) as number, 1);
    else delete record[mutation.path.at(-1) as string];
  } else record[mutation.path.at(-1) as string | number] = mutation.value;
  return copy;
}

/**
 * One to three mutations of the template: a field replaced by a hostile value, removed, or a key
 * added.
 */
export function mutated(template: unknown): fc.Arbitrary<unknown> {
  const paths = pathsOf(template);
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ path: fc.constantFrom(...paths), value: hostileValue }) },
    {
      weight: 2,
      arbitrary: fc.record({
        path: fc.constantFrom(...paths.filter((p) => p.length > 0)),
        value: fc.constant(DELETE),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        path: fc.constantFrom(...paths.filter((p) => typeof getAt(template, p) === 'object')),
        addKey: fc.constantFrom('', '__proto__', 'constructor', ' ', 'x'.repeat(300)),
        value: hostileValue,
      }),
    },
  );
  return fc
    .array(mutation, { minLength: 1, maxLength: 3 })
    .map((ms) => ms.reduce<unknown>((v, m) => apply(v, m), template));
}

/**
 * The template with one to three of its strings replaced by hostile strings: same shape, strange
 * content.
 */
export function hostileStrings(template: unknown): fc.Arbitrary<unknown> {
  const paths = stringPathsOf(template);
  const value = fc.oneof(
    fc.constantFrom<unknown>(...HOSTILE_STRINGS),
    fc.string({ unit: 'binary', maxLength: 64 }),
  );
  const mutation = fc.record({ path: fc.constantFrom(...paths), value });
  return fc
    .array(mutation, { minLength: 1, maxLength: 3 })
    .map((ms) => ms.reduce<unknown>((v, m) => apply(v, m), template));
}

/** Anything at all where an event is expected: a value of any type, or a template mutated. */
export function eventsNear(template: unknown): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 1, arbitrary: hostileValue },
    { weight: 6, arbitrary: mutated(template) },
  );
}
