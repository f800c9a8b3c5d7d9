/**
 * What the protocol accepts and sends, beyond its message shapes: the limits on incoming JSON and
 * on subscriptions (PROTOCOL.md lists them with their codes), and the value a reply carries.
 * Shared by the HTTP routes, the connection protocol and the in-process transport.
 */

/**
 * Deepest nesting of arrays and objects in one incoming message (HTTP body or WebSocket frame),
 * envelope included: `{"args":[v]}` leaves 126 levels to `v`. Deeper input is refused with
 * `too_deep` before anything walks it recursively (copying it into state, serializing a reply),
 * which would otherwise overflow the stack at a few thousand levels.
 */
export const MAX_JSON_DEPTH = 128;

/** Distinct event names one connection may subscribe to (`too_many_subscriptions`). */
export const MAX_SUBSCRIPTIONS = 256;

/** Longest event name in `sub` / `unsub`, in UTF-16 code units (`event_name_too_long`). */
export const MAX_EVENT_NAME_LENGTH = 256;

/**
 * Whether JSON text nests deeper than `MAX_JSON_DEPTH`, given the text and what it parsed to.
 * Every level takes two characters (`[` and `]`), so a short text (every action call of a typical
 * app) is answered from its length alone; a longer one is walked once, with no allocation, and
 * never deeper than the limit.
 */
export function tooDeep(text: string, parsed: unknown): boolean {
  return text.length > 2 * MAX_JSON_DEPTH && nestsDeeper(parsed, MAX_JSON_DEPTH);
}

function nestsDeeper(value: unknown, levelsLeft: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (levelsLeft === 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (nestsDeeper(value[i], levelsLeft - 1)) return true;
    }
    return false;
  }
  for (const key in value) {
    if (nestsDeeper((value as Record<string, unknown>)[key], levelsLeft - 1)) return true;
  }
  return false;
}

/**
 * The `output` of a reply. JSON has no value for undefined, a function or a symbol (it would drop
 * the `output` key altogether), so they are sent as null, as PROTOCOL.md says. Nested ones follow
 * JSON (dropped from objects, null in arrays).
 */
export function wireOutput(value: unknown): unknown {
  return value === undefined || typeof value === "function" || typeof value === "symbol"
    ? null
    : value;
}
