/**
 * `jsonCopy(v)`: the value `JSON.parse(JSON.stringify(v))` gives, made without the text in
 * between. The in-process client copies every action's arguments and result this way (wire
 * semantics: what a caller gets never aliases the actor's state, and what it sends never
 * aliases its own objects), and for the small, frequent calls of server code the text round
 * trip was most of the call's cost.
 *
 * Plain data (strings, booleans, numbers, null, arrays and plain objects of them) is copied
 * directly, with JSON's rules: non-finite numbers become null, -0 becomes 0, `undefined`,
 * functions and symbols are left out of objects and become null in arrays, own `__proto__`
 * keys stay own properties. Anything else anywhere in the value (a class instance, a Date or
 * anything with `toJSON`, a Map, a bigint, a cycle, nesting deeper than `MAX_DIRECT_DEPTH`)
 * sends the whole value through JSON itself, so the result, and any error, is exactly JSON's.
 */

/** Nesting copied directly; deeper values (and cycles) take the JSON path. */
export const MAX_DIRECT_DEPTH = 64;

const NOT_PLAIN = Symbol("not plain");

export function jsonCopy<T>(value: T): T {
  if (value === undefined) return value;
  const copy = copyPlain(value, 0);
  return (copy === NOT_PLAIN ? JSON.parse(JSON.stringify(value)) : copy) as T;
}

function copyPlain(v: unknown, depth: number): unknown {
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      // JSON writes NaN and ±Infinity as null, and -0 as 0.
      return Number.isFinite(v) ? (v === 0 ? 0 : v) : null;
    case "object":
      break;
    default:
      return NOT_PLAIN; // undefined, function, symbol (top level) or bigint: JSON decides
  }
  if (v === null) return null;
  if (depth >= MAX_DIRECT_DEPTH) return NOT_PLAIN;
  if (typeof (v as { toJSON?: unknown }).toJSON === "function") return NOT_PLAIN;
  if (Array.isArray(v)) {
    const n = v.length;
    const out = new Array(n);
    for (let i = 0; i < n; i++) {
      const e = v[i];
      if (e === undefined || typeof e === "function" || typeof e === "symbol") {
        out[i] = null;
        continue;
      }
      const c = copyPlain(e, depth + 1);
      if (c === NOT_PLAIN) return NOT_PLAIN;
      out[i] = c;
    }
    return out;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const e = (v as Record<string, unknown>)[k];
    if (e === undefined || typeof e === "function" || typeof e === "symbol") continue;
    const c = copyPlain(e, depth + 1);
    if (c === NOT_PLAIN) return NOT_PLAIN;
    if (k === "__proto__") {
      Object.defineProperty(out, k, {
        value: c,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    } else {
      out[k] = c;
    }
  }
  return out;
}
