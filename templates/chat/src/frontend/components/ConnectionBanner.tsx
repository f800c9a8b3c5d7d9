import { useAnyReconnecting } from "../lib/chat.js";

/** Shown only while a live view lost its connection and is getting it back. */
export function ConnectionBanner() {
  const reconnecting = useAnyReconnecting();
  if (!reconnecting) return null;
  return (
    <div className="connection-banner" data-testid="connection-banner" role="status">
      <span className="spinner" aria-hidden="true" />
      Reconnecting… Messages you send now go out once the connection is back.
    </div>
  );
}
