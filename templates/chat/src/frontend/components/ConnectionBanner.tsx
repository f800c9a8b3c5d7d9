import { useAnyReconnecting } from "../lib/chat.js";
import { SEND_WAIT_SECONDS } from "../lib/pending.js";

/** Shown only while a live view lost its connection and is getting it back. */
export function ConnectionBanner() {
  const reconnecting = useAnyReconnecting();
  if (!reconnecting) return null;
  return (
    <div className="connection-banner" data-testid="connection-banner" role="status">
      <span className="spinner" aria-hidden="true" />
      Reconnecting… Messages you send now wait up to {SEND_WAIT_SECONDS} s for it; any not sent by
      then stay in the room marked "Not sent", to retry.
    </div>
  );
}
