/**
 * The game's two kinds of signed token (HS256, `jose`), both from one secret:
 *
 * - **Guest token** (`POST /api/guest`): who a person is. A random player id and the name they
 *   chose, valid for `GUEST_TOKEN_TTL_SECONDS`; the browser keeps it, so the same person keeps
 *   their id and rating across visits. The matchmaker takes identity only from it.
 * - **Match ticket**: the right to join one match. The matchmaker signs one per player when it
 *   forms a match (player id + match id, valid `TICKET_TTL_SECONDS`); the match accepts a
 *   connection only with a valid ticket for itself, and on connecting hands out a fresh one for
 *   reconnecting until the match ends.
 *
 * The audience claim keeps the two apart: a guest token is not a ticket, nor the reverse.
 * Failures have distinct codes so that a client can tell them apart: `auth_required`,
 * `token_expired`, `invalid_token` for guest tokens; `ticket_required`, `ticket_expired`,
 * `ticket_invalid` (forged, garbled, not a ticket), `ticket_wrong_match` for tickets.
 */
import { type JWTPayload, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { UserError } from "troupe";
import { resolveAuthSecret as resolveSharedSecret } from "troupe/secret";

export const GUEST_TOKEN_TTL_SECONDS = 30 * 24 * 60 * 60;
/** A ticket from the matchmaker is used at once: it only has to outlive the trip to the match. */
export const TICKET_TTL_SECONDS = 60;
const ALGORITHM = "HS256";
const GUEST_AUDIENCE = "troupe-game:guest";
const TICKET_AUDIENCE = "troupe-game:ticket";

export interface Guest {
  id: string;
  name: string;
}

export class Auth {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async signGuest(guest: Guest, ttlSeconds = GUEST_TOKEN_TTL_SECONDS): Promise<string> {
    return this.sign({ name: guest.name }, guest.id, GUEST_AUDIENCE, ttlSeconds);
  }

  async verifyGuest(token: unknown): Promise<Guest> {
    if (token === undefined || token === null || token === "") {
      throw new UserError("Pick a name and press Play first: this needs a guest token.", {
        code: "auth_required",
      });
    }
    const payload = await this.verify(token, GUEST_AUDIENCE, {
      expired: () =>
        new UserError("Your guest token expired: get a new one.", { code: "token_expired" }),
      invalid: () => new UserError("The guest token is not valid.", { code: "invalid_token" }),
    });
    if (typeof payload.sub !== "string" || typeof payload.name !== "string") {
      throw new UserError("The guest token does not carry a player.", { code: "invalid_token" });
    }
    return { id: payload.sub, name: payload.name };
  }

  /** A ticket for `playerId` to join `matchId`, valid for `ttlSeconds`. */
  async signTicket(playerId: string, matchId: string, ttlSeconds = TICKET_TTL_SECONDS) {
    return this.sign({ mid: matchId }, playerId, TICKET_AUDIENCE, ttlSeconds);
  }

  /** The player id of a valid ticket for `matchId`. */
  async verifyTicket(token: unknown, matchId: string): Promise<string> {
    if (token === undefined || token === null || token === "") {
      throw new UserError("Joining a match needs the ticket the matchmaker gave you.", {
        code: "ticket_required",
      });
    }
    const payload = await this.verify(token, TICKET_AUDIENCE, {
      expired: () =>
        new UserError("This match ticket expired: queue again for a new match.", {
          code: "ticket_expired",
        }),
      invalid: () => new UserError("This match ticket is not valid.", { code: "ticket_invalid" }),
    });
    if (typeof payload.sub !== "string" || typeof payload.mid !== "string") {
      throw new UserError("This match ticket is not valid.", { code: "ticket_invalid" });
    }
    if (payload.mid !== matchId) {
      throw new UserError("This ticket is for another match.", { code: "ticket_wrong_match" });
    }
    return payload.sub;
  }

  private sign(claims: JWTPayload, subject: string, audience: string, ttlSeconds: number) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setSubject(subject)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .sign(this.key);
  }

  private async verify(
    token: unknown,
    audience: string,
    errors: { expired: () => UserError; invalid: () => UserError },
  ): Promise<JWTPayload> {
    if (typeof token !== "string") throw errors.invalid();
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        audience,
        requiredClaims: ["exp", "sub"],
      });
      return payload;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw errors.expired();
      throw errors.invalid();
    }
  }
}

/** `AUTH_SECRET`, or in development one generated and kept in `.troupe/` (see `troupe/secret`). */
export function resolveAuthSecret(env: NodeJS.ProcessEnv = process.env, devSecretFile?: string) {
  return resolveSharedSecret(env, devSecretFile, "game");
}
