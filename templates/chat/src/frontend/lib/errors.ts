/**
 * Every error the chat can show, in words. Codes come from the chat's own actors and routes
 * (`UserError` codes, see the README) and from the troupe client (connection problems). The
 * chat's own messages for input problems are written for people and are shown as they are;
 * the client's messages are for developers, so those codes get a sentence of their own.
 */
import { errorCode, SESSION_INVALID_CODES } from "troupe/accounts/client";

/** What the error carries that decides the sentence. `ActorError` has both. */
export interface CodedError {
  code?: unknown;
  message?: unknown;
}

/** Codes after which the stored session is useless (from `troupe/accounts/client`). */
export { SESSION_INVALID_CODES };

const SENTENCES: Record<string, string> = {
  auth_required: "You are not signed in. Please sign in.",
  token_expired: "Your session expired. Please sign in again.",
  invalid_token: "Your session is not valid any more. Please sign in again.",
  session_revoked: "You were signed out. Please sign in again.",
  session_expired: "Your session is over. Please sign in again.",
  account_removed: "You were removed from this organisation.",
  invalid_credentials: "Wrong organisation, username or password.",
  too_many_attempts: "Too many failed attempts. Wait a little and try again.",
  invite_invalid:
    "This invite link is not valid. Ask a member of the organisation for its current link.",
  invite_expired: "This invite link has expired. Ask an admin of the organisation for a new one.",
  org_taken:
    "An organisation with that name already exists. Ask for its invite link, or pick another name.",
  login_taken:
    "That username is already taken in this organisation. If it is yours, sign in instead.",
  forbidden: "You are not allowed to do that.",
  room_not_found: "This room does not exist. It may have been removed, or the link is wrong.",
  too_many_rooms: "Your organisation has reached its limit of rooms. Reuse an existing room.",
  room_full: "This room has reached its limit of members. Ask for a new room.",
  too_many_scheduled:
    "You have too many scheduled messages in this room. Cancel one before scheduling another.",
  not_found: "That no longer exists.",
  room_name_taken: "There is already a room with that name. Pick another one.",
  room_busy: "This room is being changed right now. Try again in a moment.",
  unavailable: "The server cannot check that right now. Try again in a moment.",
  network_error: "Cannot reach the chat server. Check your connection; we keep trying.",
  connection_unavailable:
    "Not connected to the chat server, so this was not sent. Try again in a moment.",
  connection_lost:
    "The connection dropped while this was being sent. Check whether it went through before trying again.",
  connection_params_failed: "Could not renew your session. We will try again shortly.",
  connection_disposed: "This conversation was closed. Reload the page.",
  connection_closed: "The server closed the connection. Reload the page.",
  payload_too_large: "That is too long to send.",
  invalid_response: "The server sent an answer we did not understand. Try again.",
  internal_error: "Something went wrong on the server. Please try again.",
  actor_not_found: "This room does not exist any more.",
};

/** Codes whose server message is written for people (specific, e.g. "A room needs a name."). */
const SERVER_WORDED = new Set([
  "invalid_input",
  "room_name_taken",
  "forbidden",
  "not_found",
  "too_many_scheduled",
  "too_many_attempts",
  "invite_invalid",
  "invite_expired",
  "org_taken",
  "login_taken",
  "account_removed",
]);

/** The sentence to show for an error of any kind (ActorError, HTTP error, a thrown TypeError). */
export function describeError(err: unknown): string {
  const e = (err ?? {}) as CodedError;
  const code = typeof e.code === "string" ? e.code : undefined;
  const message = typeof e.message === "string" ? e.message.trim() : "";
  if (code && SERVER_WORDED.has(code) && message) return tidyServerMessage(message);
  if (code === "invalid_input") return "That input is not valid.";
  if (code && SENTENCES[code]) return SENTENCES[code];
  // fetch() rejects with a TypeError when the network is down.
  if (err instanceof TypeError) return SENTENCES.network_error!;
  return "Something went wrong. Please try again.";
}

/** "Invalid room name: A room needs a name." -> "A room needs a name." */
export function tidyServerMessage(message: string): string {
  const stripped = message.replace(/^Invalid [^:]{1,40}:\s*/, "");
  const text = stripped || message;
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** The code of an error, if it has one (from `troupe/accounts/client`). */
export { errorCode };

/**
 * The code that says why, also for a connection the server closed on purpose: the client
 * reports those as `connection_closed` with the close reason in its metadata, and the chat's
 * server closes a signed-out or removed person's connections with reason `session_revoked` or
 * `account_removed`.
 */
export function reasonCode(err: unknown): string | undefined {
  const code = errorCode(err);
  if (code !== "connection_closed") return code;
  const reason = (err as { metadata?: { reason?: unknown } | null }).metadata?.reason;
  return typeof reason === "string" && SESSION_INVALID_CODES.has(reason) ? reason : code;
}
