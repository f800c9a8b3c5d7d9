/**
 * What the page keeps between loads:
 * - the guest (token + player) in localStorage: the same person keeps their id and rating across
 *   visits and tabs;
 * - the match being played (id + ticket) in sessionStorage: a reload of this tab rejoins it
 *   with the ticket from the last `welcome`, while another tab is a separate player slot.
 * Storage that throws (private mode, full) is treated as empty: the game still runs, it only
 * forgets on reload.
 */
export interface StoredGuest {
  token: string;
  player: { id: string; name: string };
}

export interface StoredMatch {
  matchId: string;
  ticket: string;
}

const GUEST_KEY = "troupe-game:guest";
const MATCH_KEY = "troupe-game:match";

function read<T>(storage: () => Storage, key: string, valid: (v: any) => boolean): T | null {
  try {
    const raw = storage().getItem(key);
    if (!raw) return null;
    const value = JSON.parse(raw);
    return valid(value) ? (value as T) : null;
  } catch {
    return null;
  }
}

function write(storage: () => Storage, key: string, value: unknown): void {
  try {
    if (value === null) storage().removeItem(key);
    else storage().setItem(key, JSON.stringify(value));
  } catch {
    // Storage unavailable: keep playing, forget on reload.
  }
}

const local = () => window.localStorage;
const session = () => window.sessionStorage;

export const storedGuest = () =>
  read<StoredGuest>(
    local,
    GUEST_KEY,
    (v) => typeof v?.token === "string" && typeof v?.player?.id === "string",
  );
export const saveGuest = (guest: StoredGuest | null) => write(local, GUEST_KEY, guest);

export const storedMatch = () =>
  read<StoredMatch>(
    session,
    MATCH_KEY,
    (v) => typeof v?.matchId === "string" && typeof v?.ticket === "string",
  );
export const saveMatch = (match: StoredMatch | null) => write(session, MATCH_KEY, match);
