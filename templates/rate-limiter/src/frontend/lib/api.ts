/**
 * The dashboard's singletons: the admin's token (in localStorage, so every tab shares it), the
 * admin routes as typed functions, and the React hooks over the typed client for the live chart
 * (`tenantTraffic`, which takes the same token as its connection params).
 */
import { useSyncExternalStore } from "react";
import { createRivetKit } from "troupe/react";
import type { LimiterRegistry } from "../../actors/index.js";
import type { Rule } from "../../limiter/rules.js";

export const TOKEN_KEY = "troupe-rate-limiter:admin-token";

export const { useActor } = createRivetKit<LimiterRegistry>();

// ---- the admin's session --------------------------------------------------------------------

type SessionSnapshot = { token: string | null; problem: string | null };
let snapshot: SessionSnapshot = { token: localStorage.getItem(TOKEN_KEY), problem: null };
const listeners = new Set<() => void>();

function setSession(next: SessionSnapshot): void {
  snapshot = next;
  if (next.token) localStorage.setItem(TOKEN_KEY, next.token);
  else localStorage.removeItem(TOKEN_KEY);
  for (const l of listeners) l();
}

window.addEventListener("storage", (e) => {
  if (e.key === TOKEN_KEY) setSession({ token: localStorage.getItem(TOKEN_KEY), problem: null });
});

export const session = {
  signIn: (token: string) => setSession({ token, problem: null }),
  signOut: (problem: string | null = null) => setSession({ token: null, problem }),
  get token() {
    return snapshot.token;
  },
};

export function useSession(): SessionSnapshot {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => snapshot,
  );
}

// ---- HTTP -----------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Calls an admin route with the token; an answer saying the token is no good signs out. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(snapshot.token ? { authorization: `Bearer ${snapshot.token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError("The server cannot be reached. Check your connection.", "network_error", 0);
  }
  const data = (await res.json().catch(() => null)) as {
    code?: string;
    message?: string;
  } | null;
  if (!res.ok) {
    const code = data?.code ?? "http_error";
    if (code === "admin_required") session.signOut("Your session ended. Please sign in again.");
    throw new ApiError(data?.message ?? `The server answered ${res.status}.`, code, res.status);
  }
  return data as T;
}

export function describeError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e?.code === "network_error") return "The server cannot be reached. Check your connection.";
  if (typeof e?.message === "string" && e.message) return e.message;
  return "Something went wrong.";
}

// ---- what the admin routes answer -----------------------------------------------------------

export interface Plan {
  id: string;
  name: string;
  rules: Rule[];
}

export interface Tenant {
  id: string;
  name: string;
  planId: string;
  aggregateLimit: number | null;
  aggregateWindowMs: number | null;
  createdAt: string;
}

export interface KeyInfo {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface CreatedKey {
  id: string;
  key: string;
  prefix: string;
  name: string;
}

export interface UsageRow {
  /** `minute` (per-minute history) or `day` (per-day). */
  minute?: string;
  day?: string;
  rule: string;
  allowed: number;
  limited: number;
}

export const admin = {
  signIn: (password: string) => api<{ token: string }>("POST", "/api/admin/login", { password }),
  /** Whether an admin exists, and whether the first-run form may choose one (development). */
  setupState: () =>
    api<{ adminExists: boolean; setupAvailable: boolean }>("GET", "/api/admin/setup"),
  /** Chooses the admin password while none exists (409 `admin_exists` once one does). */
  setup: (password: string) => api<{ token: string }>("POST", "/api/admin/setup", { password }),
  /** Ends the token on the server (a copy of it stops working), then forgets it here. */
  signOut: async () => {
    await api("POST", "/api/admin/logout").catch(() => {});
    session.signOut();
  },
  plans: () => api<Plan[]>("GET", "/api/admin/plans"),
  putPlan: (plan: Plan) =>
    api<{ id: string; tenantsUpdated: number }>(
      "PUT",
      `/api/admin/plans/${encodeURIComponent(plan.id)}`,
      {
        name: plan.name,
        rules: plan.rules,
      },
    ),
  tenants: () => api<Tenant[]>("GET", "/api/admin/tenants"),
  createTenant: (t: { id: string; name: string; planId: string }) =>
    api<{ id: string }>("POST", "/api/admin/tenants", t),
  setPlan: (tenantId: string, planId: string) =>
    api<{ id: string }>("PATCH", `/api/admin/tenants/${encodeURIComponent(tenantId)}`, {
      planId,
    }),
  keys: (tenantId: string) =>
    api<KeyInfo[]>("GET", `/api/admin/tenants/${encodeURIComponent(tenantId)}/keys`),
  createKey: (tenantId: string, name: string) =>
    api<CreatedKey>("POST", `/api/admin/tenants/${encodeURIComponent(tenantId)}/keys`, { name }),
  revokeKey: (tenantId: string, keyId: string) =>
    api<{ revoked: true }>(
      "DELETE",
      `/api/admin/tenants/${encodeURIComponent(tenantId)}/keys/${encodeURIComponent(keyId)}`,
    ),
  usage: (tenantId: string, by: "minute" | "day") =>
    api<UsageRow[]>(
      "GET",
      `/api/admin/tenants/${encodeURIComponent(tenantId)}/usage?${by === "day" ? "by=day&days=30" : "minutes=60"}`,
    ),
};
