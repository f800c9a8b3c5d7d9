/** The public shape of `c.kv` (see the KV spec page). */

export type KvKey = string | Uint8Array;
export type KvValue = string | Uint8Array | ArrayBuffer;
export type KvValueType = "text" | "binary";

export interface KvGetOptions<T extends KvValueType = "text"> {
  type?: T;
}

export interface KvListOptions<T extends KvValueType = "text", K extends KvValueType = "text"> {
  type?: T;
  keyType?: K;
  limit?: number;
  reverse?: boolean;
}

type ValueOf<T extends KvValueType> = T extends "binary" ? Uint8Array : string;

export interface ActorKv {
  get<T extends KvValueType = "text">(
    key: KvKey,
    options?: KvGetOptions<T>,
  ): Promise<ValueOf<T> | null>;
  getBatch<T extends KvValueType = "text">(
    keys: KvKey[],
    options?: KvGetOptions<T>,
  ): Promise<(ValueOf<T> | null)[]>;
  put(key: KvKey, value: KvValue): Promise<void>;
  putBatch(entries: [KvKey, KvValue][]): Promise<void>;
  delete(key: KvKey): Promise<void>;
  deleteBatch(keys: KvKey[]): Promise<void>;
  /** Entries under `prefix`, with the prefix removed from the returned keys. */
  list<T extends KvValueType = "text", K extends KvValueType = "text">(
    prefix: KvKey,
    options?: KvListOptions<T, K>,
  ): Promise<[ValueOf<K>, ValueOf<T>][]>;
}
