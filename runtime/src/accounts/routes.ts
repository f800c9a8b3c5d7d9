/**
 * The account routes, mounted on an app's Hono server (see `accounts.ts` for the rules):
 *
 *   POST   /api/auth/organisations   { orgName, displayName, login, password } -> { token, user, role, invite }
 *   GET    /api/auth/invites/:code   -> { org: { slug, name }, expiresAt }
 *   POST   /api/auth/join            { code, displayName, login, password }   -> { token, user, role }
 *   POST   /api/auth/sign-in         { org, login, password }                 -> { token, user, role }
 *   POST   /api/auth/refresh         (Bearer, may be expired up to 7 days)    -> { token, user, role }
 *   POST   /api/auth/sign-out        (Bearer) { everywhere? }                 -> { revoked }
 *   GET    /api/me                   (Bearer) -> { user, role }
 *   GET    /api/org/invite           (Bearer) -> { invite: { code, expiresAt } | null }
 *   POST   /api/org/invite           (Bearer, admin) -> { invite }  (the old link stops working)
 *   GET    /api/org/members          (Bearer) -> { members }
 *   DELETE /api/org/members/:id      (Bearer, admin) -> { removed }
 *
 * @example
 * mountAccountRoutes(app, { accounts, auth, trustProxy: false });
 */
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context, Hono } from "hono";
import { UserError } from "../actor/errors.js";
import type { Accounts } from "./accounts.js";
import { type Auth, bearerToken } from "./auth.js";

/**
 * HTTP statuses of the account codes that are neither 400 (a plain `UserError`) nor carried by
 * the error itself (`Unauthorized` is 401, `Forbidden` 403: `err.status`). An app's `onError`
 * looks the code up here first; `too_many_attempts` also has `retryAfterSeconds` in its metadata
 * for a `Retry-After` header.
 */
export const ACCOUNT_ERROR_STATUS = {
  not_found: 404,
  invite_invalid: 404,
  invite_expired: 410,
  org_taken: 409,
  login_taken: 409,
  too_many_attempts: 429,
} as const satisfies Record<string, number>;

export interface AccountRoutesOptions {
  accounts: Accounts;
  auth: Auth;
  /**
   * Behind a reverse proxy (Railway, a load balancer) every request comes from the proxy: take
   * the client's address from the last `X-Forwarded-For` entry (the one the proxy added) for
   * the sign-in throttle. Off by default: without a proxy that header is the client's to forge.
   */
  trustProxy?: boolean;
}

export function mountAccountRoutes(app: Hono, opts: AccountRoutesOptions): void {
  const { accounts, auth } = opts;

  app.post("/api/auth/organisations", async (c) =>
    c.json(await accounts.createOrganisation(await jsonBody(c)), 201),
  );
  app.get("/api/auth/invites/:code", async (c) =>
    c.json(await accounts.previewInvite(c.req.param("code"))),
  );
  app.post("/api/auth/join", async (c) => c.json(await accounts.join(await jsonBody(c)), 201));
  app.post("/api/auth/sign-in", async (c) =>
    c.json(await accounts.signIn(await jsonBody(c), clientAddress(c, opts.trustProxy ?? false))),
  );
  app.post("/api/auth/refresh", async (c) =>
    c.json(await accounts.refresh(bearerToken(c.req.header("authorization")))),
  );
  app.post("/api/auth/sign-out", async (c) => {
    const body = (await jsonBody(c, true)) as { everywhere?: unknown } | null;
    const everywhere = body?.everywhere === true;
    return c.json(await accounts.signOut(bearerToken(c.req.header("authorization")), everywhere));
  });

  app.get("/api/me", async (c) => {
    const user = await auth.fromRequest(c);
    return c.json({ user, role: await accounts.role(user) });
  });
  app.get("/api/org/invite", async (c) =>
    c.json({ invite: await accounts.currentInvite(await auth.fromRequest(c)) }),
  );
  app.post("/api/org/invite", async (c) =>
    c.json({ invite: await accounts.renewInvite(await auth.fromRequest(c)) }),
  );
  app.get("/api/org/members", async (c) =>
    c.json({ members: await accounts.listMembers(await auth.fromRequest(c)) }),
  );
  app.delete("/api/org/members/:id", async (c) =>
    c.json(await accounts.removeMember(await auth.fromRequest(c), c.req.param("id"))),
  );
}

/** The JSON body; an empty body is `null` when `optional`, bad JSON is `invalid_input`. */
async function jsonBody(c: Context, optional = false): Promise<unknown> {
  const text = await c.req.text();
  if (optional && text.trim() === "") return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UserError("The body must be JSON.", { code: "invalid_input" });
  }
}

/** The client's address for the throttle. */
export function clientAddress(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header("x-forwarded-for");
    const last = forwarded?.split(",").at(-1)?.trim();
    if (last) return last;
  }
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown";
  }
}
