/**
 * The whole app: the sign-in screen without a session (or on an invite link, `/join/<code>`),
 * else the shell (header, room list with the invite link, and the room, search results or a
 * welcome). On a phone the room list and the rest are separate screens (`data-screen` on the
 * shell); on a wide screen the list is a sidebar.
 */
import { useEffect, useState } from "react";
import { type Session, signOutSession } from "../lib/api.js";
import { sessionStore, useSession } from "../lib/chat.js";
import { useReads } from "../lib/reads.js";
import { navigate, useRoute } from "../lib/router.js";
import { ConnectionBanner } from "./ConnectionBanner.js";
import { Header } from "./Header.js";
import { InvitePanel } from "./InvitePanel.js";
import { RoomList } from "./RoomList.js";
import { RoomView } from "./RoomView.js";
import { SearchView } from "./SearchView.js";
import { SignIn } from "./SignIn.js";

export function App() {
  const { session, problem } = useSession();
  const route = useRoute();
  const shownUser = useSettledUser(session?.user.id);
  if (route.name === "join") {
    return <SignIn problem={problem} inviteCode={route.code} signedInAs={session} />;
  }
  if (!session) return <SignIn problem={problem} />;
  // Another user (a sign-in in another tab): let the old connections close before opening new
  // ones, so no connection keeps the previous identity.
  if (shownUser !== session.user.id) return <div className="splash">Loading…</div>;
  return <Shell key={session.user.id} session={session} />;
}

function useSettledUser(userId: string | undefined): string | undefined {
  const [shown, setShown] = useState(userId);
  useEffect(() => {
    if (shown === userId) return;
    const t = setTimeout(() => setShown(userId), 30);
    return () => clearTimeout(t);
  }, [shown, userId]);
  return shown;
}

function Shell({ session }: { session: Session }) {
  const route = useRoute();
  const activeRoomId = route.name === "room" ? route.roomId : null;
  const [roomNames, setRoomNames] = useState<Record<string, string>>({});
  const { reads, markRead } = useReads(session.user);

  const signOut = () => {
    // Ends the session on the server too, so this token cannot be refreshed by anyone who
    // copied it; signing out locally does not wait for that.
    signOutSession(session.token).catch(() => {});
    sessionStore.signOut();
    navigate("/", { replace: true });
  };

  return (
    <div className="shell" data-screen={route.name === "home" ? "list" : "detail"}>
      <Header
        user={session.user}
        onSignOut={signOut}
        query={route.name === "search" ? route.q : ""}
      />
      <ConnectionBanner />
      <div className="shell-body">
        <aside className="sidebar" aria-label="Rooms">
          <RoomList
            org={session.user.org}
            activeRoomId={activeRoomId}
            reads={reads}
            onNames={setRoomNames}
          />
          <InvitePanel role={session.role} />
        </aside>
        <main className="main">
          {route.name === "room" ? (
            <RoomView
              key={route.roomId}
              roomId={route.roomId}
              focusMessageId={route.messageId}
              knownName={roomNames[route.roomId]}
              user={session.user}
              role={session.role}
              onMarkRead={markRead}
            />
          ) : route.name === "search" ? (
            <SearchView key={route.q} q={route.q} />
          ) : (
            <Welcome />
          )}
        </main>
      </div>
    </div>
  );
}

function Welcome() {
  return (
    <div className="welcome">
      <div className="welcome-card">
        <h2>Pick a room</h2>
        <p>Choose a room on the left, or create one to start a conversation with your team.</p>
      </div>
    </div>
  );
}
