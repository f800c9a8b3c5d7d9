/**
 * State change tracking. `c.state` is a deep proxy over plain data: every write goes through a
 * trap that checks the value can be stored (naming the path if not) and marks the actor dirty.
 * Proxies are cached per object so `c.state.list === c.state.list` holds, and reads cost one map
 * lookup. Serialization happens once per group commit, not once per write.
 */
import { TroupeError } from "../errors.js";

export class StateNotSerializableError extends TroupeError {
  constructor(path: string, what: string) {
    super(
      "state_not_serializable",
      `Cannot store ${what} at ${path}: actor state must be plain data (objects, arrays, strings, finite numbers, booleans, null). Keep it in c.vars instead, or convert it (e.g. a Date to date.getTime()).`,
      { public: false },
    );
  }
}

/**
 * `obj.__proto__ = v` replaces the object's prototype instead of adding a key, and JSON then
 * leaves it out: memory and storage would disagree. State treats it as the plain key JSON.parse
 * makes of it, defined as an own property.
 */
const PROTO = "__proto__";

function defineData(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    writable: true,
    enumerable: true,
    configurable: true,
  });
}

/**
 * Deepest nesting of arrays and objects in an actor's state, counting `c.state` itself as level 1.
 * Copying, serializing and loading state recurse once per level; past a few thousand levels that
 * overflows the stack, so a deeper assignment is refused with an error naming its path instead.
 */
export const MAX_STATE_DEPTH = 256;

/**
 * Returns a deep plain copy of `value`, or throws StateNotSerializableError naming the first path
 * that cannot be stored. Copying on assignment means state never aliases an object the caller
 * still holds (or another part of the state), so memory always equals what will be persisted.
 * `depth` is the level the value takes in the state (1 for `c.state` itself).
 */
export function cloneSerializable(value: unknown, path: string, depth = 1): unknown {
  // Primitives (most assignments) return before anything is allocated.
  if (typeof value !== "object" || value === null) return clone(value, path, depth, undefined);
  return clone(value, path, depth, new Set());
}

function clone(
  value: unknown,
  path: string,
  depth: number,
  seen: Set<object> | undefined,
): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "undefined":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new StateNotSerializableError(path, String(value));
      return value;
    case "bigint":
      throw new StateNotSerializableError(path, "a bigint");
    case "function":
      throw new StateNotSerializableError(path, "a function");
    case "symbol":
      throw new StateNotSerializableError(path, "a symbol");
  }
  if (value === null) return null;
  const obj = value as object;
  // Always given for objects (see cloneSerializable).
  const visited = seen as Set<object>;
  if (visited.has(obj)) throw new StateNotSerializableError(path, "a circular reference");
  if (depth > MAX_STATE_DEPTH) {
    throw new StateNotSerializableError(
      path,
      `a value nested more than ${MAX_STATE_DEPTH} levels deep (MAX_STATE_DEPTH)`,
    );
  }
  visited.add(obj);
  try {
    if (Array.isArray(obj)) {
      const out = new Array(obj.length);
      for (let i = 0; i < obj.length; i++) {
        const item = obj[i];
        if (item === undefined) {
          throw new StateNotSerializableError(`${path}[${i}]`, "undefined in an array");
        }
        out[i] = clone(item, `${path}[${i}]`, depth + 1, visited);
      }
      return out;
    }
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const name = (obj as { constructor?: { name?: string } }).constructor?.name ?? "object";
      throw new StateNotSerializableError(path, `a ${name}`);
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(obj)) {
      const v = clone((obj as Record<string, unknown>)[key], `${path}.${key}`, depth + 1, visited);
      if (v === undefined) continue;
      if (key === PROTO) defineData(out, key, v);
      else out[key] = v;
    }
    return out;
  } finally {
    visited.delete(obj);
  }
}

/** Wraps a state tree; `onChange` runs after every write that changed something. */
export class TrackedState {
  private raw: unknown;
  private proxies = new WeakMap<object, object>();
  private readonly onChange: () => void;

  constructor(initial: unknown, onChange: () => void) {
    this.raw = cloneSerializable(initial, "state", 1);
    this.onChange = onChange;
  }

  /** The unproxied tree, for serialization. */
  get value(): unknown {
    return this.raw;
  }

  /** What `c.state` returns. */
  get proxy(): unknown {
    return this.wrap(this.raw, "state", 1);
  }

  /** `c.state = next` */
  replace(next: unknown): void {
    this.raw = cloneSerializable(next, "state", 1);
    this.proxies = new WeakMap();
    this.onChange();
  }

  /** `depth`: the level of `value` in the state, so assignments into it know theirs. */
  private wrap(value: unknown, path: string, depth: number): unknown {
    if (typeof value !== "object" || value === null) return value;
    const cached = this.proxies.get(value);
    if (cached) return cached;
    const isArray = Array.isArray(value);
    const pathOf = (prop: string) => (isArray ? `${path}[${prop}]` : `${path}.${prop}`);
    const proxy = new Proxy(value as object, {
      get: (target, prop, receiver) => {
        const v = Reflect.get(target, prop, receiver);
        if (typeof prop === "symbol" || typeof v !== "object" || v === null) return v;
        // Without an own `__proto__` key this is the prototype: state is data and has no such
        // key (and handing out Object.prototype would let state writes pollute every object).
        if (prop === PROTO && !Object.hasOwn(target, prop)) return undefined;
        return this.wrap(v, pathOf(prop), depth + 1);
      },
      set: (target, prop, v) => {
        if (typeof prop === "symbol") {
          throw new StateNotSerializableError(`${path}[${String(prop)}]`, "a symbol key");
        }
        let stored: unknown;
        if (isArray && prop === "length") {
          stored = v;
        } else {
          if (isArray && v === undefined) {
            throw new StateNotSerializableError(pathOf(prop), "undefined in an array");
          }
          stored = cloneSerializable(v, pathOf(prop), depth + 1);
        }
        const prev = (target as Record<string, unknown>)[prop];
        if (prop === PROTO) defineData(target, prop, stored);
        else (target as Record<string, unknown>)[prop] = stored;
        if (prev !== stored || typeof stored === "object") this.onChange();
        return true;
      },
      deleteProperty: (target, prop) => {
        const had = Object.hasOwn(target, prop);
        const ok = Reflect.deleteProperty(target, prop);
        if (ok && had) this.onChange();
        return ok;
      },
      defineProperty: (target, prop, descriptor) => {
        if ("get" in descriptor || "set" in descriptor) {
          throw new StateNotSerializableError(pathOf(String(prop)), "an accessor property");
        }
        const value = cloneSerializable(descriptor.value, pathOf(String(prop)), depth + 1);
        const ok = Reflect.defineProperty(target, prop, { ...descriptor, value });
        if (ok) this.onChange();
        return ok;
      },
    });
    this.proxies.set(value, proxy);
    return proxy;
  }
}
