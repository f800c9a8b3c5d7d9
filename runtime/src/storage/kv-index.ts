/**
 * The per-actor KV index shared by the memory and file drivers.
 *
 * KV keys are held as "binary strings" (latin1: one UTF-16 code unit per byte, 0..255). Plain
 * string comparison of such strings is exactly unsigned lexicographic byte order, a JS Map gives
 * O(1) point lookups on them, and V8 stores them at one byte per character. A sorted key array
 * is kept beside the map for prefix listing; it is built lazily (a bulk sort after replay is far
 * cheaper than one splice per key) and then maintained by binary-search inserts and removals.
 */

/** Bytes to binary string (no copy of the bytes is kept). */
export function bytesToKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

/** Binary string back to a fresh, caller-owned Uint8Array. */
export function keyToBytes(key: string): Uint8Array {
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) out[i] = key.charCodeAt(i);
  return out;
}

/** A fresh, caller-owned copy of `bytes` as a plain Uint8Array (not a Buffer view on a pool). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

export class SortedKeyMap<V> {
  private readonly map = new Map<string, V>();
  /** All keys in ascending order, or null until the next listing needs them. */
  private sorted: string[] | null = [];

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  /** Sets a value and returns the previous one. */
  set(key: string, value: V): V | undefined {
    const prev = this.map.get(key);
    this.map.set(key, value);
    if (prev === undefined && this.sorted) {
      const i = lowerBound(this.sorted, key);
      this.sorted.splice(i, 0, key);
    }
    return prev;
  }

  /** Removes a key and returns its value. */
  delete(key: string): V | undefined {
    const prev = this.map.get(key);
    if (prev === undefined) return undefined;
    this.map.delete(key);
    if (this.sorted) {
      const i = lowerBound(this.sorted, key);
      if (this.sorted[i] === key) this.sorted.splice(i, 1);
    }
    return prev;
  }

  /** Drops the sorted order; it is rebuilt on the next listing. Use before bulk loads. */
  deferOrdering(): void {
    this.sorted = null;
  }

  entries(): IterableIterator<[string, V]> {
    return this.map.entries();
  }

  values(): IterableIterator<V> {
    return this.map.values();
  }

  /** Entries whose key starts with `prefix`, ascending (or descending), at most `limit`. */
  list(prefix: string, limit = Number.POSITIVE_INFINITY, reverse = false): [string, V][] {
    if (!(limit > 0)) return [];
    if (!this.sorted) this.sorted = [...this.map.keys()].sort();
    const keys = this.sorted;
    const lo = lowerBound(keys, prefix);
    // Keys >= prefix that start with it form one run at the start of keys[lo..]: search its end.
    let a = lo;
    let b = keys.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (keys[mid].startsWith(prefix)) a = mid + 1;
      else b = mid;
    }
    const hi = a;
    const count = Math.min(hi - lo, Math.floor(limit));
    const out: [string, V][] = new Array(count);
    for (let n = 0; n < count; n++) {
      const k = keys[reverse ? hi - 1 - n : lo + n];
      out[n] = [k, this.map.get(k) as V];
    }
    return out;
  }
}

/** First index whose key is >= `key`. */
function lowerBound(keys: string[], key: string): number {
  let a = 0;
  let b = keys.length;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (keys[mid] < key) a = mid + 1;
    else b = mid;
  }
  return a;
}
