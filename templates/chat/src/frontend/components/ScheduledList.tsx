import { useNow } from "../lib/hooks.js";
import { formatScheduled } from "../lib/time.js";
import { Icon } from "./Icon.js";

export interface Scheduled {
  id: string;
  text: string;
  at: number;
}

/** My messages waiting to be sent in this room, soonest first, each cancellable. */
export function ScheduledList({
  scheduled,
  onCancel,
}: {
  scheduled: Scheduled[];
  onCancel: (id: string) => void;
}) {
  const now = useNow();
  if (scheduled.length === 0) return null;
  return (
    <section className="scheduled" aria-label="Your scheduled messages">
      <h3>
        <Icon name="clock" size={14} /> Scheduled by you ({scheduled.length})
      </h3>
      <ul data-testid="scheduled-list">
        {scheduled.map((s) => (
          <li key={s.id} className="scheduled-item" data-testid="scheduled-item">
            <span className="scheduled-when">{formatScheduled(s.at, now)}</span>
            <span className="scheduled-text">{s.text}</span>
            <button
              type="button"
              className="icon-btn"
              data-testid="cancel-scheduled"
              aria-label="Cancel scheduled message"
              title="Cancel"
              onClick={() => onCancel(s.id)}
            >
              <Icon name="x" size={16} />
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
