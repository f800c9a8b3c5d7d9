/**
 * The `system` tenant: limits the server applies to its own routes, defined in code rather than
 * SQL, and decided by the same shard actors as every tenant's. Today one rule: admin sign-in
 * attempts per client address (a password guesser gets 10 tries per 15 minutes per address).
 * `system` is reserved: no tenant of that name can be created, and it has no API keys.
 */
import type { TenantConfig, TenantSource } from "./actors/services.js";
import { parseRule } from "./limiter/rules.js";

export const SYSTEM_TENANT = "system";

export const SYSTEM_CONFIG: TenantConfig = {
  tenantId: SYSTEM_TENANT,
  version: 1,
  planId: "system",
  rules: [
    parseRule({
      id: "admin-login",
      match: { route: "/api/admin/login", method: "POST" },
      algorithm: "fixed-window",
      limit: 10,
      windowMs: 15 * 60 * 1000,
      // A guesser must not get through because the limiter is slow.
      failMode: "closed",
    }),
  ],
  aggregate: null,
  keys: {},
};

/** `source` with the `system` tenant added in front of it. */
export function withSystemTenant<T extends TenantSource>(source: T): TenantSource {
  return {
    load: (tenantId) =>
      tenantId === SYSTEM_TENANT ? Promise.resolve(SYSTEM_CONFIG) : source.load(tenantId),
    version: (tenantId) =>
      tenantId === SYSTEM_TENANT
        ? Promise.resolve(SYSTEM_CONFIG.version)
        : (source.version?.(tenantId) ?? source.load(tenantId).then((t) => t?.version)),
  };
}
