/**
 * Which shard a limited key lives on: a stable 32-bit hash (FNV-1a over the key's UTF-16 code
 * units, then murmur3's finaliser so that every output bit depends on every input bit), mapped
 * onto `shards` by multiply-and-shift (even for any shard count, no modulo bias worth naming).
 *
 * Stable means: the same key goes to the same shard in every process and after every restart,
 * which is what makes each key's limit exact on its shard. Changing the shard count moves most
 * keys (see the README's rebalancing rule).
 *
 * @example
 * shardOf(JSON.stringify(["key_123", "search"]), 8) // → 0..7, always the same
 */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function shardOf(key: string, shards: number): number {
  return Math.floor((hash32(key) * shards) / 0x1_0000_0000);
}
