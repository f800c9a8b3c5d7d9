import { hueOf, initials } from "../lib/messages.js";

export function Avatar({ id, name, size = 36 }: { id: string; name: string; size?: number }) {
  const hue = hueOf(id);
  return (
    <span
      className="avatar"
      aria-hidden="true"
      style={{
        width: size,
        height: size,
        fontSize: size * 0.4,
        background: `hsl(${hue} 65% 92%)`,
        color: `hsl(${hue} 55% 32%)`,
      }}
    >
      {initials(name)}
    </span>
  );
}
