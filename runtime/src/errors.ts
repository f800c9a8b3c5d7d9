/**
 * Every error code the runtime itself produces, with its HTTP status and the message a person sees.
 * Shared by server and client (no Node APIs here). Codes chosen by actors through `UserError` are
 * free-form and travel the same way.
 *
 * Wire shape of an error (HTTP body and, later, WebSocket replies):
 *   { "error": { "code": "action_not_found", "message": "...", "metadata": { ... } } }
 */
import { MAX_JSON_DEPTH } from "./protocol/wire.js";

export const ERROR_CODES = {
  actor_not_found: {
    status: 404,
    message: "No actor exists for this key or id. Use getOrCreate() or create() to make one.",
  },
  actor_already_exists: {
    status: 409,
    message: "An actor with this key already exists. Use get() or getOrCreate() to reach it.",
  },
  unknown_actor_type: {
    status: 404,
    message: "The registry has no actor with this name. Check the name passed to setup({ use }).",
  },
  action_not_found: {
    status: 404,
    message: "This actor has no action with that name. Check the actor's `actions`.",
  },
  invalid_key: { status: 400, message: "An actor key must be an array of strings." },
  key_too_long: { status: 400, message: "The actor key is too long." },
  invalid_request: {
    status: 400,
    message: "The request body is not valid JSON of the expected shape. See runtime/PROTOCOL.md.",
  },
  invalid_arguments: {
    status: 400,
    message: "The action arguments are not valid. Send them as a JSON array.",
  },
  too_deep: {
    status: 400,
    message: `The message nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep (MAX_JSON_DEPTH). Flatten the data.`,
  },
  payload_too_large: {
    status: 413,
    message: "The request is larger than the server's limit (maxIncomingMessageSize).",
  },
  action_timeout: {
    status: 504,
    message: "The action did not finish within the actor's actionTimeout.",
  },
  actor_stopping: {
    status: 503,
    message: "The actor is shutting down. Retry the request; it will be woken again.",
  },
  too_many_actors: {
    status: 503,
    message:
      "The server runs as many actors as it is allowed (maxLiveActors) and none is idle. Retry later.",
  },
  too_many_connections: {
    status: 429,
    message:
      "Too many WebSockets are open from this address (maxConnectionsPerAddress). Close one, or retry later.",
  },
  storage_error: {
    status: 503,
    message:
      "The actor's changes could not be stored (the server's storage failed), so none of them were kept and the actor restarts from its last stored state. Retry the request.",
  },
  state_not_serializable: {
    status: 500,
    message: "The actor tried to store a value that cannot be serialized.",
  },
  internal_error: {
    status: 500,
    message: "Internal error. Read the server logs for more details.",
  },
  user_error: { status: 400, message: "The actor rejected the request." },
  not_found: { status: 404, message: "Nothing is served at this path." },
  origin_not_allowed: {
    status: 403,
    message:
      "Pages from this origin may not open WebSockets here. Add it to the registry's cors.origin.",
  },
  network_error: {
    status: 0,
    message: "Could not reach the server. Check the endpoint and that it runs.",
  },
  invalid_response: {
    status: 0,
    message:
      "The server answered with something that is not a Troupe response (a proxy error page?).",
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorBody {
  code: string;
  message: string;
  metadata?: unknown;
}

/** An error the runtime raises on purpose; its code and message are safe to show a client. */
export class TroupeError extends Error {
  readonly code: string;
  readonly metadata: unknown;
  readonly status: number;
  /** Whether code and message may reach the client. Internal errors never do. */
  readonly public: boolean;

  constructor(
    code: ErrorCode,
    message?: string,
    opts: { metadata?: unknown; cause?: unknown; public?: boolean } = {},
  ) {
    super(message ?? ERROR_CODES[code].message, { cause: opts.cause });
    this.name = "TroupeError";
    this.code = code;
    this.metadata = opts.metadata;
    this.status = ERROR_CODES[code].status;
    this.public = opts.public ?? code !== "internal_error";
  }
}
