/**
 * `UserError`: the one error type whose message, code and metadata reach the client. Anything
 * else thrown by an actor becomes `internal_error` (logged on the server, hidden from clients).
 *
 * Over HTTP a `UserError` answers 400, except for authentication and authorisation refusals:
 * `Unauthorized` (401: no credentials, or credentials that are expired, forged or revoked) and
 * `Forbidden` (403: valid credentials that do not allow this). Those keep any code given to them
 * (`token_expired`, say), so a client can tell the reasons apart while the status says which
 * kind of refusal it is. A plain `UserError` with code `unauthorized` or `forbidden` (as the
 * RivetKit docs' examples throw) gets 401 or 403 too. Over a WebSocket the status does not
 * travel: the code does (PROTOCOL.md).
 *
 * @example
 * createConnState: async (c, params) => {
 *   const user = await verify(params?.token); // throws Unauthorized("…", { code: "token_expired" })
 *   if (user.org !== c.key[0]) throw new Forbidden("This room belongs to another organisation.");
 *   return { user };
 * },
 */
export class UserError extends Error {
  readonly code: string;
  readonly metadata: unknown;
  constructor(message: string, opts: { code?: string; metadata?: unknown; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "UserError";
    this.code = opts.code ?? "user_error";
    this.metadata = opts.metadata;
  }

  /** The HTTP status this error answers with. */
  get status(): number {
    if (this.code === "unauthorized") return 401;
    if (this.code === "forbidden") return 403;
    return 400;
  }
}

type UserErrorOptions = ConstructorParameters<typeof UserError>[1];

/** The caller is not authenticated (HTTP 401): no credentials, or ones that are not valid (any more). */
export class Unauthorized extends UserError {
  constructor(
    message = "Sign in first: this needs valid credentials.",
    opts: UserErrorOptions = {},
  ) {
    super(message, { ...opts, code: opts.code ?? "unauthorized" });
    this.name = "Unauthorized";
  }

  override get status(): number {
    return 401;
  }
}

/** The caller is authenticated but not allowed to do this (HTTP 403). */
export class Forbidden extends UserError {
  constructor(message = "You are not allowed to do this.", opts: UserErrorOptions = {}) {
    super(message, { ...opts, code: opts.code ?? "forbidden" });
    this.name = "Forbidden";
  }

  override get status(): number {
    return 403;
  }
}
