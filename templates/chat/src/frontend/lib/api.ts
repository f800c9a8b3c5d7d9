/**
 * The chat's own HTTP routes (organisations, invites, sign-in, token refresh, sign-out, search). Errors are thrown as `ActorError`
 * with the server's code, the same class the actor client throws, so one `describeError` reads
 * them all; a failed fetch (server down) becomes `network_error`.
 */
import { ActorError } from "troupe/client";
import type { Invite, Role } from "../../accounts/accounts.js";
import type { User } from "../../auth.js";
import type { SearchResult } from "../../server.js";

export type { Invite, Role, SearchResult, User };

export interface Session {
  token: string;
  user: User;
  /** Absent in sessions stored by older versions; `/api/me` tells. */
  role?: Role;
}

export interface InvitePreview {
  org: { slug: string; name: string };
  expiresAt: number;
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

function postJson<T>(path: string, body: unknown, token?: string): Promise<T> {
  return request<T>(path, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
}

export function signIn(org: string, login: string, password: string): Promise<Session> {
  return postJson<Session>("/api/auth/sign-in", { org, login, password });
}

export interface NewAccount {
  displayName: string;
  login: string;
  password: string;
}

export function createOrganisation(
  body: NewAccount & { orgName: string },
): Promise<Session & { invite: Invite }> {
  return postJson("/api/auth/organisations", body);
}

export function joinOrganisation(body: NewAccount & { code: string }): Promise<Session> {
  return postJson("/api/auth/join", body);
}

export function previewInvite(code: string): Promise<InvitePreview> {
  return request(`/api/auth/invites/${encodeURIComponent(code)}`, {});
}

/** Ends this session on the server (or all of the account's with `everywhere`). */
export function signOutSession(token: string, everywhere = false): Promise<{ revoked: number }> {
  return postJson("/api/auth/sign-out", { everywhere }, token);
}

export function currentInvite(token: string): Promise<{ invite: Invite | null }> {
  return request("/api/org/invite", { headers: { authorization: `Bearer ${token}` } });
}

export function renewInvite(token: string): Promise<{ invite: Invite }> {
  return postJson("/api/org/invite", {}, token);
}

/** The link a person opens to join: `/join/<code>` on this site. */
export function inviteLink(code: string, origin = location.origin): string {
  return `${origin}/join/${encodeURIComponent(code)}`;
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
