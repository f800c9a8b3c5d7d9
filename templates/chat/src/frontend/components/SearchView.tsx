/**
 * Search results for `?q=` (full-text search in SQL over the organisation's messages, newest
 * first). Each result links to its message in its room. Messages reach SQL in the background,
 * so one sent a moment ago can take a second to be found.
 */

import { useCallback, useEffect, useState } from "react";
import { problemOf } from "troupe/accounts/client";
import { type SearchResult, searchMessages } from "../lib/api.js";
import { sessionStore } from "../lib/chat.js";
import { describeError, errorCode } from "../lib/errors.js";
import { useNow } from "../lib/hooks.js";
import { snippetParts } from "../lib/messages.js";
import { linkClick, roomPath } from "../lib/router.js";
import { formatClock, formatRelative } from "../lib/time.js";
import { Avatar } from "./Avatar.js";

export function SearchView({ q }: { q: string }) {
  const [results, setResults] = useState<SearchResult[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const now = useNow();

  const load = useCallback(
    async (after: string | null) => {
      setLoading(true);
      setError(null);
      try {
        const token = await sessionStore.freshToken();
        const page = await searchMessages(token, q, after);
        setResults((prev) => (after && prev ? [...prev, ...page.results] : page.results));
        setCursor(page.nextCursor);
      } catch (err) {
        const problem = problemOf(errorCode(err));
        if (problem) sessionStore.end(problem);
        setError(describeError(err));
      } finally {
        setLoading(false);
      }
    },
    [q],
  );

  useEffect(() => {
    if (q.trim()) void load(null);
  }, [q, load]);

  return (
    <section className="search-view">
      <div className="room-head">
        <a className="back-link" href="/" onClick={linkClick("/")} aria-label="Back to rooms">
          ‹
        </a>
        <div className="room-head-main">
          <h1>Search</h1>
          <span className="room-sub">
            {q ? `Messages matching “${q}”` : "Type a word in the search box above."}
          </span>
        </div>
      </div>
      <div className="search-results">
        {error && (
          <p className="notice notice-error" data-testid="search-error" role="alert">
            {error}
          </p>
        )}
        {results === null && loading && (
          <div className="loading-rows" role="status" aria-label="Searching">
            <div className="skeleton" />
            <div className="skeleton" />
          </div>
        )}
        {results?.length === 0 && (
          <div className="empty" data-testid="search-empty">
            <div className="empty-icon" aria-hidden="true">
              ?
            </div>
            <p>
              <strong>No messages match “{q}”.</strong>
              <br />
              Try another word, or fewer words. Messages sent in the last second may not be found
              yet.
            </p>
          </div>
        )}
        {results && results.length > 0 && (
          <ol className="result-list">
            {results.map((r) => (
              <li key={r.id}>
                <a
                  className="search-result"
                  data-testid="search-result"
                  href={roomPath(r.roomId, r.id)}
                  onClick={linkClick(roomPath(r.roomId, r.id))}
                >
                  <Avatar id={r.authorId} name={r.authorName} size={32} />
                  <span className="result-body">
                    <span className="result-head">
                      <span className="message-author">{r.authorName}</span>
                      <span className="muted">
                        in <strong>#{r.roomName ?? "unknown room"}</strong> ·{" "}
                        {formatRelative(r.createdAt, now)}, {formatClock(r.createdAt)}
                      </span>
                    </span>
                    <span className="result-text">
                      {snippetParts(r.snippet || r.text).map((p, i) =>
                        p.match ? (
                          // biome-ignore lint/suspicious/noArrayIndexKey: parts of one static string
                          <mark key={i}>{p.text}</mark>
                        ) : (
                          // biome-ignore lint/suspicious/noArrayIndexKey: parts of one static string
                          <span key={i}>{p.text}</span>
                        ),
                      )}
                    </span>
                  </span>
                </a>
              </li>
            ))}
          </ol>
        )}
        {cursor && (
          <div className="load-older-row">
            <button
              type="button"
              className="btn btn-ghost"
              onClick={() => load(cursor)}
              disabled={loading}
            >
              {loading ? "Loading…" : "More results"}
            </button>
          </div>
        )}
      </div>
    </section>
  );
}
