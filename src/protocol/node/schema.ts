/**
 * Small runtime validators for the vault↔node wire (src/protocol/node/ops.ts). A
 * Schema<T> checks an untrusted JSON value and returns it typed as T, or throws a
 * WireError naming the first bad field. Hand-written rather than JSON Schema + ajv:
 * ajv is only a transitive dependency (of fastify), and the node must not lean on it.
 *
 * Objects are closed by default (unknown keys are refused), so a body either is what
 * the op's type says or never reaches a handler.
 */

export class WireError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path || "body"}: ${reason}`);
  }
}

export type Schema<T> = (value: unknown, path: string) => T;
type Out<S> = S extends Schema<infer T> ? T : never;

/** A string of at most `max` characters (default 4096), matching `pattern` if given. */
export function str(opts: { max?: number; pattern?: RegExp } = {}): Schema<string> {
  const max = opts.max ?? 4096;
  return (v, path) => {
    if (typeof v !== "string") throw new WireError(path, "must be a string");
    if (v.length > max) throw new WireError(path, `must be at most ${max} characters`);
    if (opts.pattern && !opts.pattern.test(v)) throw new WireError(path, "has the wrong format");
    return v;
  };
}

/** A safe integer in [min, max]. */
export function int(min = 0, max = Number.MAX_SAFE_INTEGER): Schema<number> {
  return (v, path) => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new WireError(path, `must be an integer in [${min}, ${max}]`);
    }
    return v;
  };
}

export function bool(): Schema<boolean> {
  return (v, path) => {
    if (typeof v !== "boolean") throw new WireError(path, "must be a boolean");
    return v;
  };
}

/** One of the given primitive values. */
export function literal<const L extends string | number>(...values: L[]): Schema<L> {
  return (v, path) => {
    if (!values.includes(v as L)) throw new WireError(path, `must be one of ${values.join(", ")}`);
    return v as L;
  };
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return (v, path) => (v === null ? null : inner(v, path));
}

export function oneOf<A, B>(a: Schema<A>, b: Schema<B>): Schema<A | B> {
  return (v, path) => {
    try {
      return a(v, path);
    } catch {
      return b(v, path);
    }
  };
}

export function arr<T>(item: Schema<T>, max = 1024): Schema<T[]> {
  return (v, path) => {
    if (!Array.isArray(v)) throw new WireError(path, "must be an array");
    if (v.length > max) throw new WireError(path, `must have at most ${max} items`);
    return v.map((x, i) => item(x, `${path}[${i}]`));
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Any JSON object; its contents are checked by the code that uses it (e.g. decodeIntent). */
export function anyObject(): Schema<Record<string, unknown>> {
  return (v, path) => {
    if (!isPlainObject(v)) throw new WireError(path, "must be an object");
    return v;
  };
}

type Shape = Record<string, Schema<unknown>>;
type ObjectOf<R extends Shape, O extends Shape> = { [K in keyof R]: Out<R[K]> } & {
  [K in keyof O]?: Out<O[K]>;
};

/**
 * An object with the `required` and `optional` fields. Closed unless `open` is set:
 * then unknown keys pass through unchecked (for intents, whose extra fields the node
 * ignores when it re-derives the digest).
 */
export function obj<R extends Shape, O extends Shape = Record<never, never>>(
  required: R,
  optional?: O,
  open = false,
): Schema<ObjectOf<R, O>> {
  return (v, path) => {
    if (!isPlainObject(v)) throw new WireError(path, "must be an object");
    for (const [k, check] of Object.entries(required)) {
      if (!Object.hasOwn(v, k) || v[k] === undefined)
        throw new WireError(`${path}.${k}`, "is required");
      check(v[k], `${path}.${k}`);
    }
    for (const [k, check] of Object.entries(optional ?? {})) {
      if (Object.hasOwn(v, k) && v[k] !== undefined) check(v[k], `${path}.${k}`);
    }
    if (!open) {
      for (const k of Object.keys(v)) {
        if (!Object.hasOwn(required, k) && !Object.hasOwn(optional ?? {}, k)) {
          throw new WireError(`${path}.${k}`, "is not a field of this request");
        }
      }
    }
    return v as ObjectOf<R, O>;
  };
}

/** Picks the schema by the value of a tag field (e.g. an intent's `kind`). */
export function tagged<T>(tag: string, cases: Record<string, Schema<T>>): Schema<T> {
  return (v, path) => {
    if (!isPlainObject(v)) throw new WireError(path, "must be an object");
    const key = v[tag];
    const check = typeof key === "string" && Object.hasOwn(cases, key) ? cases[key] : undefined;
    if (!check)
      throw new WireError(`${path}.${tag}`, `must be one of ${Object.keys(cases).join(", ")}`);
    return check(v, path);
  };
}

/** An object used as a map: any keys, every value checked by `value`. */
export function record<T>(value: Schema<T>): Schema<Record<string, T>> {
  return (v, path) => {
    if (!isPlainObject(v)) throw new WireError(path, "must be an object");
    for (const [k, x] of Object.entries(v)) value(x, `${path}.${k}`);
    return v as Record<string, T>;
  };
}
