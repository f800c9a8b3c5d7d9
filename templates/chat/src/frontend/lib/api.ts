/**
 * The chat's own HTTP routes (sign-in, token refresh, search). Errors are thrown as `ActorError`
 * with the server's code, the same class the actor client throws, so one `describeError` reads
 * them all; a failed fetch (server down) becomes `network_error`.
 */
import { ActorError } from "troupe/client";
import type { User } from "../../auth.js";
import type { SearchResult } from "../../server.js";

export type { SearchResult, User };

export interface Session {
  token: string;
  user: User;
}

export interface SearchPage {
  results: SearchResult[];
  nextCursor: string | null;
}

async function request<T>(path: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ActorError("network_error", `Could not reach ${path}.`, undefined, { cause: err });
  }
  const body = (await res.json().catch(() => null)) as
    | (T & { error?: { code?: string; message?: string; metadata?: unknown } })
    | null;
  if (!res.ok || !body || body.error) {
    const e = body?.error;
    throw new ActorError(
      typeof e?.code === "string"
        ? e.code
        : res.status >= 500
          ? "internal_error"
          : "invalid_response",
      e?.message ?? `HTTP ${res.status} from ${path}`,
      e?.metadata,
    );
  }
  return body;
}

export function signIn(displayName: string, org: string): Promise<Session> {
  return request<Session>("/api/auth/sign-in", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ displayName, org }),
  });
}

export function refreshToken(token: string): Promise<Session> {
  return request<Session>("/api/auth/refresh", {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
}

export function searchMessages(
  token: string,
  q: string,
  cursor?: string | null,
): Promise<SearchPage> {
  const params = new URLSearchParams({ q, limit: "20" });
  if (cursor) params.set("cursor", cursor);
  return request<SearchPage>(`/api/search?${params}`, {
    headers: { authorization: `Bearer ${token}` },
  });
}
