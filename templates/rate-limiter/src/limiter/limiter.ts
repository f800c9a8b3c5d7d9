/**
 * `Limiter`: what the middleware (or any server code) calls to decide on a request. It picks the
 * shard by a stable hash of the limited key and asks that shard actor in-process. Calls to
 * each shard, and key checks to each tenant's coordinator, are batched (`Batcher`): one call in
 * flight per actor, and what arrives meanwhile goes together in the next one. That is what lets
 * many concurrent callers share the cost of an action call; it adds at most one call's latency.
 *
 * It also remembers whose each API key is (by hash, once the coordinator found it valid), so that
 * `apiKeyRateLimit()` can send a request straight to the key's shard, which checks the key itself.
 *
 * @example
 * const limiter = await Limiter.start(registry);
 * const verdict = await limiter.check("acme", { key: keyId, method: "GET", path: "/v1/quotes" });
 */
import type { Client } from "troupe/client";
import type { KeyCheck, LimiterRegistry } from "../actors/index.js";
import { SHARDS_PER_TENANT } from "../actors/services.js";
import { type ParsedApiKey, parseApiKey } from "./api-keys.js";
import { Batcher, type Gather } from "./batcher.js";
import { shardOf } from "./hash.js";
import type { CheckRequest, Verdict } from "./verdict.js";
import {
  decodeVerdict,
  encodeRequests,
  POLICY_FIELDS,
  VERDICT_FIELDS,
  type WireVerdicts,
} from "./wire.js";

type ShardHandle = ReturnType<Client<LimiterRegistry>["limiterShard"]["getOrCreate"]>;
type TenantHandle = ReturnType<Client<LimiterRegistry>["tenantLimiter"]["getOrCreate"]>;

/** Most requests in one `check` call; a larger burst is split. */
export const MAX_BATCH = 512;
/** Most requests waiting for one actor; more fail at once rather than pile up in memory. */
export const MAX_WAITING = 16 * MAX_BATCH;
/** Most API keys whose ids the process remembers (`knownKey`); the oldest learnt go first. */
export const MAX_KNOWN_KEYS = 10_000;
/**
 * How long a key's id is remembered without asking the coordinator again. Only what rides along
 * (the tenant's fail-closed rules, for `c.var.apiKey`) can go stale: the key's validity is
 * checked by its shard on every request all the same.
 */
export const KNOWN_KEY_MS = 60_000;

/**
 * An API key the coordinator found valid: whose it is (`KeyCheck` without `ok`). Frozen: one
 * object serves every request made with the key.
 */
export type KnownKey = Readonly<{
  tenantId: string;
  keyId: string;
  failClosed: Extract<KeyCheck, { ok: true }>["failClosed"];
}>;

export interface LimiterOptions {
  /**
   * How calls to an actor are gathered into batches (`Gather` in batcher.ts): `"tick"` (default)
   * for code that awaits decisions in a loop, `"turn"` for an HTTP server, whose requests each
   * arrive in an event-loop callback of their own and otherwise each make their own call.
   */
  gather?: Gather;
}

export type Authentication =
  | KeyCheck
  | { ok: false; code: "missing_api_key" | "malformed_api_key" | "unknown_api_key" };

/**
 * API keys found valid, by hash (oldest first): see `Limiter.knownKey`. One map for the process,
 * shared by every `Limiter` in it, so that a host building a limiter per request (the Worker)
 * keeps what earlier requests learnt. Sharing is safe: an entry only says whose a key is, and
 * the shard checks that (the key's hash must be the tenant's key with that id) on every request.
 */
const knownKeys = new Map<string, { key: KnownKey; at: number }>();

/** Every verdict of a batch's wire form, in order. */
function decodeVerdicts(wire: WireVerdicts): Verdict[] {
  const n = (wire.length - 1 - (wire[0] as number) * POLICY_FIELDS) / VERDICT_FIELDS;
  const out: Verdict[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = decodeVerdict(wire, i);
  return out;
}

export class Limiter {
  private readonly shardHandles = new Map<string, ShardHandle>();
  private readonly tenantHandles = new Map<string, TenantHandle>();
  /** Per tenant, per shard (index): the batcher of its `check` calls. */
  private readonly checks = new Map<string, Batcher<CheckRequest, Verdict>[]>();
  private readonly keyChecks = new Map<string, Batcher<string, KeyCheck>>();

  constructor(
    private readonly client: Client<LimiterRegistry>,
    readonly shardsPerTenant: number = SHARDS_PER_TENANT,
    private readonly opts: LimiterOptions = {},
  ) {}

  /** A limiter over the registry's in-process client (starts the registry's engine if needed). */
  static async start(registry: LimiterRegistry, opts: LimiterOptions = {}): Promise<Limiter> {
    const { engine } = await registry.ensureRuntime();
    return new Limiter(
      engine.client() as unknown as Client<LimiterRegistry>,
      registry.tuning.shardsPerTenant,
      opts,
    );
  }

  /** The shard that holds `key`'s counters. */
  shardFor(key: string): number {
    return shardOf(key, this.shardsPerTenant);
  }

  check(tenantId: string, req: CheckRequest): Promise<Verdict> {
    const shard = this.shardFor(req.key);
    let batchers = this.checks.get(tenantId);
    if (!batchers) this.checks.set(tenantId, (batchers = []));
    let batcher = batchers[shard];
    if (!batcher) {
      const id = JSON.stringify([tenantId, shard]);
      const handle = this.shard(tenantId, shard);
      batcher = new Batcher(
        (reqs: CheckRequest[]) => handle.check(encodeRequests(reqs)).then(decodeVerdicts),
        {
          maxBatch: MAX_BATCH,
          maxWaiting: MAX_WAITING,
          name: `The limiter shard ${id}`,
          gather: this.opts.gather,
        },
      );
      batchers[shard] = batcher;
    }
    return batcher.push(req);
  }

  /** Checks an API key (the raw header value) with its tenant's coordinator. */
  authenticate(raw: string | undefined | null): Promise<Authentication> {
    return this.authenticateParsed(parseApiKey(raw));
  }

  /**
   * Checks a parsed API key with its tenant's coordinator, and remembers a valid key's id (see
   * `knownKey`).
   */
  async authenticateParsed(parsed: ParsedApiKey): Promise<Authentication> {
    if (!parsed.ok) return parsed;
    let batcher = this.keyChecks.get(parsed.tenantId);
    if (!batcher) {
      const handle = this.tenant(parsed.tenantId);
      batcher = new Batcher((hashes: string[]) => handle.authenticateMany(hashes), {
        maxBatch: MAX_BATCH,
        maxWaiting: MAX_WAITING,
        name: `The coordinator of tenant ${JSON.stringify(parsed.tenantId)}`,
        gather: this.opts.gather,
      });
      this.keyChecks.set(parsed.tenantId, batcher);
    }
    try {
      const check = await batcher.push(parsed.hash);
      if (check.ok) {
        const { tenantId, keyId, failClosed } = check;
        knownKeys.delete(parsed.hash);
        if (knownKeys.size >= MAX_KNOWN_KEYS) {
          knownKeys.delete(knownKeys.keys().next().value!);
        }
        // Frozen: shared by every request with the key (`c.var.apiKey`).
        const frozen = Object.freeze(failClosed) as typeof failClosed;
        const key = Object.freeze({ tenantId, keyId, failClosed: frozen });
        knownKeys.set(parsed.hash, { key, at: Date.now() });
      } else {
        knownKeys.delete(parsed.hash);
      }
      return check;
    } catch (err) {
      // A tenant that does not exist gets no coordinator: to the caller, an unknown key.
      if ((err as { code?: string }).code === "unknown_tenant") {
        return { ok: false, code: "unknown_api_key" };
      }
      throw err;
    }
  }

  /**
   * Whose the API key with this hash is, if the coordinator found it valid within `KNOWN_KEY_MS`:
   * enough to send a request to the key's shard with the key's hash (`CheckRequest.keyHash`),
   * which checks the key itself. Never a sign that the key is still valid: only the shard's or
   * the coordinator's answer is.
   */
  knownKey(hash: string): KnownKey | undefined {
    const known = knownKeys.get(hash);
    if (!known) return undefined;
    if (Date.now() - known.at > KNOWN_KEY_MS) {
      knownKeys.delete(hash);
      return undefined;
    }
    return known.key;
  }

  /** Forgets a key's id (its shard refused it). */
  forgetKey(hash: string): void {
    knownKeys.delete(hash);
  }

  /**
   * Wakes a tenant's coordinator and shards, so that its first requests do not spend their time
   * budget on a cold start (loading the tenant, restoring counters).
   */
  async warm(tenantId: string): Promise<void> {
    await Promise.all(
      Array.from({ length: this.shardsPerTenant }, (_, s) => this.shard(tenantId, s).stats()),
    );
  }

  /** Re-reads a tenant and pushes it to its running shards (after an admin change). */
  reload(tenantId: string): Promise<number> {
    return this.tenant(tenantId).reload();
  }

  /** The shard actor's handle (tests and benchmarks inspect it). */
  shard(tenantId: string, shard: number): ShardHandle {
    const id = JSON.stringify([tenantId, shard]);
    let h = this.shardHandles.get(id);
    if (!h) {
      h = this.client.limiterShard.getOrCreate([tenantId, String(shard)]);
      this.shardHandles.set(id, h);
    }
    return h;
  }

  tenant(tenantId: string): TenantHandle {
    let h = this.tenantHandles.get(tenantId);
    if (!h) {
      h = this.client.tenantLimiter.getOrCreate([tenantId]);
      this.tenantHandles.set(tenantId, h);
    }
    return h;
  }
}
