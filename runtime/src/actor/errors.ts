/**
 * `UserError`: the one error type whose message, code and metadata reach the client. Anything
 * else thrown by an actor becomes `internal_error` (logged on the server, hidden from clients).
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
}
