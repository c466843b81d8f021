/**
 * A contract built the first time something uses it, not when its module is imported.
 *
 * Every step function imports the contracts, and building a zod schema is not free: built at import,
 * the ~100 schemas here were most of each function's module init, though a step parses only a few
 * of them (docs/failure-semantics.md, "Cold start"). `deferred(() => z.object(…))` returns a stand-in
 * with the schema's exact type; its first property access builds the schema, and every access after
 * that goes to the built one. A contract defined in terms of another (`A.extend(…)`, a field of type
 * `B`) is deferred as well, so importing contracts/ builds nothing (test/unit/contracts-deferred.test.ts).
 */
export function deferred<T extends object>(build: () => T): T {
  let built: T | undefined;
  const real = (): T => {
    if (built === undefined) {
      built = build();
      builtCount++;
    }
    return built;
  };
  return new Proxy({} as T, {
    get: (_, key) => {
      const target = real();
      return Reflect.get(target, key, target);
    },
    set: (_, key, value) => Reflect.set(real(), key, value),
    has: (_, key) => Reflect.has(real(), key),
    ownKeys: () => Reflect.ownKeys(real()),
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(real(), key);
      // The stand-in's own target has no such property: a proxy may only report it configurable.
      return descriptor && { ...descriptor, configurable: true };
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(real()),
  });
}

let builtCount = 0;

/** How many deferred contracts have been built in this process (what the test above counts). */
export const deferredBuilt = (): number => builtCount;
