/**
 * The rate limiter's routes as one Hono app, the same on every host: the public API behind
 * `apiKey()` and `rateLimit()`, the admin routes and health. What differs by host comes in as
 * `AppDeps`: on Node (`server.ts`) one pool, limiter and session set for the process; on
 * Cloudflare Workers (`worker.ts`) a connection and a limiter per request. The actor registry's
 * routes (`/api/troupe/*`) come in as a handler; the dashboard is the host's.
 */
import { type Context, type Handler, Hono } from "hono";
import type { Logger } from "troupe";
import type { ScryptParams } from "troupe/accounts/password";
import { bodyLimit } from "troupe/hono";
import { z } from "zod";
import { TENANT_ID } from "./actors/index.js";
import {
  type AdminSessions,
  adminExists,
  createAdmin,
  ensureAdmin,
  MIN_ADMIN_PASSWORD_LENGTH,
  signIn,
} from "./admin-auth.js";
import type { Db } from "./db/index.js";
import type { Store } from "./db/store.js";
import type { Limiter } from "./limiter/limiter.js";
import { describeIssues, parseRule, type Rule, ruleSchema } from "./limiter/rules.js";
import { apiKeyRateLimit, type RateLimitEnv, rateLimit } from "./middleware/index.js";
import { mountPublicApi } from "./public-api.js";
import { SYSTEM_TENANT } from "./system-tenant.js";

export interface AppDeps {
  db: Db;
  store: Store;
  limiter: Limiter;
  /** Checks admin tokens (signature, expiry, sign-outs). */
  sessions: Pick<AdminSessions, "verify" | "signOut">;
  /** Signs admin tokens. */
  authSecret: string;
  /** The middleware's time budget. */
  budgetMs: number;
  /** `GET /api/health`. */
  health: Handler;
  /** The caller's address, for the sign-in limit. */
  clientAddress: (c: Context) => string;
  logger?: Logger;
  /** The actor registry's routes at `/api/troupe/*` (Node; on Workers the handler routes them). */
  registry?: (request: Request) => Response | Promise<Response>;
  /**
   * Whether `POST /api/admin/setup` (the dashboard's first-run form: the first visitor chooses
   * the admin password while none is stored) exists. Only outside production: a server on the
   * internet must not let the first stranger claim it. Default false.
   */
  firstRunSetup?: boolean;
  /** The cost of the first-run setup's hash (default `DEFAULT_SCRYPT`; tests make it cheap). */
  scrypt?: ScryptParams;
}

const MAX_BODY_BYTES = 64 * 1024;

/** Plans every new installation starts with (the admin can change them). */
export const DEFAULT_PLANS: { id: string; name: string; rules: Rule[] }[] = [
  {
    id: "free",
    name: "Free",
    rules: [
      parseRule({
        id: "quotes",
        match: { route: "/v1/quotes*", method: "GET" },
        algorithm: "sliding-window",
        limit: 20,
        windowMs: 60_000,
      }),
      parseRule({
        id: "weather",
        match: { route: "/v1/weather/*", method: "GET" },
        algorithm: "token-bucket",
        rate: 1,
        burst: 5,
      }),
    ],
  },
  {
    id: "pro",
    name: "Pro",
    rules: [
      parseRule({
        id: "quotes",
        match: { route: "/v1/quotes*", method: "GET" },
        algorithm: "sliding-window",
        limit: 1000,
        windowMs: 60_000,
      }),
      parseRule({
        id: "weather",
        match: { route: "/v1/weather/*", method: "GET" },
        algorithm: "token-bucket",
        rate: 50,
        burst: 100,
        failMode: "closed",
      }),
    ],
  },
];

const idSchema = z.string().regex(TENANT_ID, {
  error: "id must be 1-40 lowercase letters, digits and -, starting with a letter or digit.",
});
const aggregateSchema = z
  .object({
    limit: z.number().int().min(1).max(1_000_000_000),
    windowMs: z
      .number()
      .int()
      .min(1000)
      .max(7 * 24 * 3600 * 1000),
  })
  .nullable();
const planBody = z.object({
  id: idSchema,
  name: z.string().min(1).max(100),
  rules: z.array(z.unknown()).max(50),
});
const tenantBody = z.object({
  id: idSchema,
  name: z.string().min(1).max(100),
  planId: idSchema,
  aggregate: aggregateSchema.default(null),
});
const tenantPatch = z.object({
  planId: idSchema.optional(),
  aggregate: aggregateSchema.optional(),
});
const keyBody = z.object({ name: z.string().min(1).max(100) });

/** Bad input from the caller: a 400 with the message. */
class BadInput extends Error {}

/**
 * What a fresh database needs before the app serves: the default plans, and the admin password
 * from `adminPassword` if none is stored yet. Returns whether an admin exists afterwards.
 */
export async function seedDatabase(
  db: Db,
  store: Store,
  adminPassword: string | undefined,
  scrypt?: ScryptParams,
): Promise<boolean> {
  const hasAdmin = await ensureAdmin(db, adminPassword, scrypt);
  for (const plan of DEFAULT_PLANS) {
    if (!(await store.planExists(plan.id))) await store.putPlan(plan);
  }
  return hasAdmin;
}

/** The app's routes over `deps`; anything outside `/api/*` and `/v1/*` is left to the host. */
export function createApp(deps: AppDeps): Hono<RateLimitEnv> {
  const { db, store, limiter, sessions, authSecret, budgetMs } = deps;
  const app = new Hono<RateLimitEnv>();
  app.onError((err, c) => {
    if (err instanceof BadInput)
      return c.json({ code: "invalid_input", message: err.message }, 400);
    if (deps.logger) deps.logger.error("request failed", { error: err });
    else console.error("[rate-limiter] request failed:", err);
    return c.json({ code: "internal_error", message: "Something went wrong." }, 500);
  });
  const registry = deps.registry;
  if (registry) app.all("/api/troupe/*", (c) => registry(c.req.raw));
  app.use("*", bodyLimit({ maxBytes: MAX_BODY_BYTES }));

  app.get("/api/health", deps.health);

  // ---- the public API ----------------------------------------------------------------------
  // The key check and the decision in one actor call (the key's shard checks the key too).
  app.use("/v1/*", apiKeyRateLimit({ limiter, budgetMs }));
  mountPublicApi(app);

  // ---- admin -------------------------------------------------------------------------------
  // Sign-in attempts are limited per client address by the limiter itself (src/system-tenant.ts).
  app.post(
    "/api/admin/login",
    rateLimit({
      limiter,
      budgetMs,
      failMode: "closed",
      key: (c) => ({ tenant: SYSTEM_TENANT, key: deps.clientAddress(c) }),
    }),
  );
  app.post("/api/admin/login", async (c) => {
    const body = parse(z.object({ password: z.string().max(1000) }), await json(c.req.raw));
    const token = await signIn(db, authSecret, body.password);
    if (!token) return c.json({ code: "wrong_password", message: "Wrong password." }, 401);
    return c.json({ token });
  });
  // The first run (outside production): while no admin exists, the sign-in screen is a form
  // that chooses the admin password. GET says which screen to show.
  app.get("/api/admin/setup", async (c) => {
    const exists = await adminExists(db);
    return c.json({ adminExists: exists, setupAvailable: !exists && deps.firstRunSetup === true });
  });
  app.post("/api/admin/setup", async (c) => {
    if (!deps.firstRunSetup) {
      return c.json(
        {
          code: "setup_disabled",
          message: "In production the admin password comes from ADMIN_PASSWORD on the first start.",
        },
        404,
      );
    }
    const { password } = parse(z.object({ password: z.string().max(1000) }), await json(c.req.raw));
    if (password.length < MIN_ADMIN_PASSWORD_LENGTH) {
      throw new BadInput(
        `The admin password must be at least ${MIN_ADMIN_PASSWORD_LENGTH} characters long.`,
      );
    }
    if ((await createAdmin(db, password, deps.scrypt)) === "exists") {
      return c.json(
        {
          code: "admin_exists",
          message: "Someone else has set the admin password already: sign in with it.",
        },
        409,
      );
    }
    const token = await signIn(db, authSecret, password);
    if (!token) throw new Error("The admin just created cannot sign in.");
    return c.json({ token }, 201);
  });
  app.use("/api/admin/*", async (c, next) => {
    const header = c.req.header("authorization");
    const token = header?.startsWith("Bearer ") ? header.slice(7) : undefined;
    if (!sessions.verify(token)) {
      return c.json({ code: "admin_required", message: "Sign in as the admin first." }, 401);
    }
    await next();
  });
  // Ends this token's session on the server: a copy of it is refused from now on.
  app.post("/api/admin/logout", async (c) => {
    await sessions.signOut(c.req.header("authorization")?.slice(7));
    return c.json({ ok: true });
  });

  app.get("/api/admin/plans", async (c) => c.json(await store.listPlans()));
  app.put("/api/admin/plans/:id", async (c) => {
    const body = parse(planBody, { ...(await json(c.req.raw)), id: c.req.param("id") });
    const rules = body.rules.map((r, i) => {
      const parsed = ruleSchema.safeParse(r);
      if (!parsed.success) throw new BadInput(`rules[${i}]: ${describeIssues(parsed.error)}`);
      return parsed.data;
    });
    if (new Set(rules.map((r) => r.id)).size !== rules.length) {
      throw new BadInput("Two rules of a plan have the same id.");
    }
    const tenantIds = await store.putPlan({ id: body.id, name: body.name, rules });
    // Live: every tenant on the plan gets the new rules on its running shards before we answer.
    await Promise.all(tenantIds.map((t) => limiter.reload(t)));
    return c.json({ id: body.id, rules, tenantsUpdated: tenantIds.length });
  });

  app.get("/api/admin/tenants", async (c) => c.json(await store.listTenants()));
  app.post("/api/admin/tenants", async (c) => {
    const body = parse(tenantBody, await json(c.req.raw));
    if (body.id === SYSTEM_TENANT) throw new BadInput(`"${SYSTEM_TENANT}" is reserved.`);
    if (!(await store.planExists(body.planId))) throw new BadInput(`No plan "${body.planId}".`);
    if (!(await store.createTenant(body))) {
      return c.json({ code: "tenant_exists", message: `Tenant "${body.id}" exists already.` }, 409);
    }
    return c.json({ id: body.id }, 201);
  });
  app.patch("/api/admin/tenants/:id", async (c) => {
    const id = c.req.param("id");
    const body = parse(tenantPatch, await json(c.req.raw));
    if (body.planId !== undefined && !(await store.planExists(body.planId))) {
      throw new BadInput(`No plan "${body.planId}".`);
    }
    if (!(await store.updateTenant(id, body))) return notFound(c, "tenant");
    await limiter.reload(id);
    return c.json({ id });
  });
  app.post("/api/admin/tenants/:id/keys", async (c) => {
    const id = c.req.param("id");
    const body = parse(keyBody, await json(c.req.raw));
    if (!(await store.listTenants()).some((t) => t.id === id)) return notFound(c, "tenant");
    const created = await store.createKey(id, body.name);
    await limiter.reload(id);
    // The key itself appears here once; only its hash is stored.
    return c.json(created, 201);
  });
  app.get("/api/admin/tenants/:id/keys", async (c) =>
    c.json(await store.listKeys(c.req.param("id"))),
  );
  app.delete("/api/admin/tenants/:id/keys/:keyId", async (c) => {
    const id = c.req.param("id");
    if (!(await store.revokeKey(id, c.req.param("keyId")))) return notFound(c, "key");
    await limiter.reload(id);
    return c.json({ revoked: true });
  });
  app.get("/api/admin/tenants/:id/usage", async (c) => {
    if (c.req.query("by") === "day") {
      const days = Math.min(366, Math.max(1, Number(c.req.query("days") ?? 30) || 30));
      const today = Math.floor(Date.now() / 86_400_000) * 86_400_000;
      const since = new Date(today - (days - 1) * 86_400_000);
      return c.json(await store.usageByDay(c.req.param("id"), since));
    }
    const minutes = Math.min(24 * 60, Math.max(1, Number(c.req.query("minutes") ?? 60) || 60));
    return c.json(await store.usage(c.req.param("id"), new Date(Date.now() - minutes * 60_000)));
  });

  app.all("/api/*", (c) => c.json({ code: "not_found", message: "No such API route." }, 404));
  return app;
}

async function json(req: Request): Promise<Record<string, unknown>> {
  try {
    const body = await req.json();
    if (body && typeof body === "object" && !Array.isArray(body)) return body;
  } catch {}
  throw new BadInput("The body must be a JSON object.");
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new BadInput(describeIssues(parsed.error));
  return parsed.data;
}

function notFound(c: { json: (b: unknown, s: 404) => Response }, what: string) {
  return c.json({ code: `${what}_not_found`, message: `No such ${what}.` }, 404);
}
