/**
 * The chat's HTTP API from the browser: the account routes (organisations, invites, sign-in,
 * token refresh, sign-out) are `troupe/accounts/client`'s, re-exported here beside the chat's
 * own search. Errors are thrown as `ActorError` with the server's code, the same class the actor
 * client throws, so one `describeError` reads them all; a failed fetch (server down) becomes
 * `network_error`.
 */
import { requestJson } from "troupe/accounts/client";
import type { SearchResult } from "../../server.js";

export {
  createOrganisation,
  currentInvite,
  type Invite,
  type InvitePreview,
  joinOrganisation,
  type NewAccount,
  previewInvite,
  type Role,
  refreshToken,
  renewInvite,
  type Session,
  signIn,
  signOutSession,
  type User,
} from "troupe/accounts/client";
export type { SearchResult };

export interface SearchPage {
  results: SearchResult[];
  nextCursor: string | null;
}

/** The link a person opens to join: `/join/<code>` on this site. */
export function inviteLink(code: string, origin = location.origin): string {
  return `${origin}/join/${encodeURIComponent(code)}`;
}

export function searchMessages(
  token: string,
  q: string,
  cursor?: string | null,
): Promise<SearchPage> {
  const params = new URLSearchParams({ q, limit: "20" });
  if (cursor) params.set("cursor", cursor);
  return requestJson<SearchPage>(`/api/search?${params}`, {
    headers: { authorization: `Bearer ${token}` },
  });
}
