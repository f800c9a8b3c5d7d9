/** The error every client call rejects with. `code` is stable and meant for `if`/`switch`. */
export class ActorError extends Error {
  readonly code: string;
  readonly metadata: unknown;
  constructor(code: string, message: string, metadata?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ActorError";
    this.code = code;
    this.metadata = metadata;
  }
}
