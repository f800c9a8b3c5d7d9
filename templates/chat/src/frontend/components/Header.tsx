import { type FormEvent, useEffect, useState } from "react";
import type { User } from "../lib/api.js";
import { linkClick, navigate, searchPath } from "../lib/router.js";
import { Avatar } from "./Avatar.js";

export function Header({
  user,
  onSignOut,
  query,
}: {
  user: User;
  onSignOut: () => void;
  query: string;
}) {
  const [q, setQ] = useState(query);
  useEffect(() => setQ(query), [query]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const text = q.trim();
    if (text) navigate(searchPath(text));
  };

  return (
    <header className="topbar">
      <a className="brand" href="/" onClick={linkClick("/")}>
        <span className="brand-mark" aria-hidden="true" />
        <span className="brand-name">Troupe chat</span>
        <span className="org-badge" title="Your organisation">
          {user.org}
        </span>
      </a>
      <form className="search-form" aria-label="Search messages" onSubmit={submit}>
        <input
          data-testid="search-input"
          type="search"
          value={q}
          onChange={(e) => setQ(e.target.value)}
          placeholder="Search messages"
          aria-label="Search messages"
          maxLength={200}
        />
        <button type="submit" className="btn btn-ghost" data-testid="search-submit">
          Search
        </button>
      </form>
      <div className="topbar-me">
        <Avatar id={user.id} name={user.name} size={28} />
        <span className="me-name" data-testid="current-user">
          {user.name}
        </span>
        <button
          type="button"
          className="btn btn-ghost btn-small"
          data-testid="sign-out"
          onClick={onSignOut}
        >
          Sign out
        </button>
      </div>
    </header>
  );
}
