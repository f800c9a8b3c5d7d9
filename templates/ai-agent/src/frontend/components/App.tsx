/**
 * The app's frame: the sign-in screen without a session; with one, the conversation list
 * (sidebar: titles, last activity, New conversation, today's usage) and the open conversation.
 * The open conversation is in the address (`/c/<id>`), so a reload or a second tab opens it.
 */
import { useCallback, useEffect, useState } from "react";
import { currentInvite, renewInvite, signOutSession } from "troupe/accounts/client";
import type { ConversationSummary, DailyUsage } from "../../actors/index.js";
import {
  describeError,
  getParams,
  sessionStore,
  useActor,
  useSession,
  useSessionGuard,
} from "../lib/client.js";
import { formatTokens } from "../lib/conversation.js";
import { Conversation } from "./Conversation.js";
import { SignIn } from "./SignIn.js";

function readRoute(): { conversationId?: string; inviteCode?: string } {
  const m = window.location.pathname.match(/^\/(c|join)\/([^/]+)$/);
  if (!m) return {};
  const value = decodeURIComponent(m[2]!);
  return m[1] === "c" ? { conversationId: value } : { inviteCode: value };
}

export function navigate(path: string): void {
  window.history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function App() {
  const { session, problem } = useSession();
  const [route, setRoute] = useState(readRoute);
  useEffect(() => {
    const onPop = () => setRoute(readRoute());
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  if (!session || route.inviteCode) {
    return <SignIn problem={problem} inviteCode={route.inviteCode} />;
  }
  return <Workspace userId={session.user.id} conversationId={route.conversationId} />;
}

function Workspace({ userId, conversationId }: { userId: string; conversationId?: string }) {
  const { session } = useSession();
  const list = useActor({ name: "agentList", key: [userId], getParams });
  useSessionGuard(list.error);
  const [conversations, setConversations] = useState<ConversationSummary[] | null>(null);
  const [usage, setUsage] = useState<DailyUsage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [menuOpen, setMenuOpen] = useState(false);

  list.useEvent("conversationsChanged", setConversations);
  list.useEvent("usageChanged", setUsage);
  const conn = list.connection;
  useEffect(() => {
    if (!conn || !list.isConnected) return;
    conn.listConversations().then(setConversations, (err) => setError(describeError(err)));
    conn.usageToday().then(setUsage, () => {});
  }, [conn, list.isConnected]);

  const create = useCallback(async () => {
    if (!conn) return;
    setCreating(true);
    setError(null);
    try {
      const c = await conn.createConversation();
      setMenuOpen(false);
      navigate(`/c/${encodeURIComponent(c.id)}`);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setCreating(false);
    }
  }, [conn]);

  return (
    <div className={`layout ${conversationId ? "has-conversation" : ""}`}>
      <aside className={`sidebar ${menuOpen ? "open" : ""}`} aria-label="Conversations">
        <div className="sidebar-head">
          <strong>Conversations</strong>
          <button type="button" className="primary" onClick={create} disabled={!conn || creating}>
            {creating ? "Creating…" : "New conversation"}
          </button>
        </div>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {conversations === null ? (
          <p className="muted pad">{list.error ? describeError(list.error) : "Loading…"}</p>
        ) : conversations.length === 0 ? (
          <p className="muted pad empty">No conversations yet. Start one with New conversation.</p>
        ) : (
          <ul className="conversation-list">
            {conversations.map((c) => (
              <li key={c.id}>
                <a
                  href={`/c/${encodeURIComponent(c.id)}`}
                  aria-current={c.id === conversationId ? "page" : undefined}
                  onClick={(e) => {
                    e.preventDefault();
                    setMenuOpen(false);
                    navigate(`/c/${encodeURIComponent(c.id)}`);
                  }}
                >
                  <span className="title">{c.title}</span>
                  <time className="muted" dateTime={new Date(c.lastActivityAt).toISOString()}>
                    {formatActivity(c.lastActivityAt)}
                  </time>
                </a>
              </li>
            ))}
          </ul>
        )}
        <footer className="sidebar-foot">
          {usage && (
            <p className="usage-today" data-testid="usage-today">
              Today: {formatTokens(usage.inputTokens + usage.outputTokens)} of{" "}
              {formatTokens(usage.budget)} tokens
            </p>
          )}
          <p className="muted">
            {session?.user.name} · {session?.user.org}
          </p>
          <InviteLink />
          <button
            type="button"
            className="link"
            onClick={() => {
              const token = sessionStore.session?.token;
              sessionStore.signOut();
              if (token) signOutSession(token).catch(() => {});
              navigate("/");
            }}
          >
            Sign out
          </button>
        </footer>
      </aside>
      <main className="main">
        <button type="button" className="menu-button" onClick={() => setMenuOpen((o) => !o)}>
          ☰ Conversations
        </button>
        {conversationId ? (
          <Conversation
            key={conversationId}
            userId={userId}
            conversationId={conversationId}
            listTitle={conversations?.find((c) => c.id === conversationId)?.title}
          />
        ) : (
          <div className="placeholder">
            <p>Pick a conversation, or start a new one.</p>
            <button type="button" className="primary" onClick={create} disabled={!conn || creating}>
              New conversation
            </button>
          </div>
        )}
      </main>
    </div>
  );
}

function InviteLink() {
  const [link, setLink] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  async function show() {
    setError(null);
    try {
      const token = await sessionStore.freshToken();
      const { invite } = await currentInvite(token).then((r) =>
        r.invite ? r : renewInvite(token),
      );
      setLink(`${window.location.origin}/join/${encodeURIComponent(invite!.code)}`);
    } catch (err) {
      setError(describeError(err));
    }
  }
  if (link)
    return (
      <p className="invite">
        Invite link: <input readOnly value={link} onFocus={(e) => e.target.select()} />
      </p>
    );
  return (
    <>
      <button type="button" className="link" onClick={show}>
        Invite someone
      </button>
      {error && <p className="error">{error}</p>}
    </>
  );
}

function formatActivity(at: number): string {
  const d = new Date(at);
  const today = new Date();
  return d.toDateString() === today.toDateString()
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString();
}
