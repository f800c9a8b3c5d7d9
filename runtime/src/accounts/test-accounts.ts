/**
 * `troupe/accounts/test`: accounts for tests, made through the real account routes, the way
 * people make them. Shared by the tests of `troupe/accounts` (`test-app.ts`), the chat's test
 * helpers and the end-to-end chat fixture, which each had a copy.
 *
 * `signIn(displayName, org)` keeps tests short: the first call for an organisation creates it
 * (`POST /api/auth/organisations`: that person is its admin), later calls join through its invite
 * link (`POST /api/auth/join`), each as a new account with its own login and the given password.
 *
 * @example
 * const api = jsonApi(() => server.url);
 * const accounts = new TestAccounts(api.post, "test-password-1234");
 * const ada = await accounts.signIn("Ada", "acme"); // creates acme, Ada is its admin
 * const bo = await accounts.signIn("Bo", "acme"); // joins acme through its invite link
 * await api.get("/api/me", bo.token);
 */
import type { Role } from "./accounts.js";
import type { User } from "./auth.js";

export interface JsonReply {
  status: number;
  /** The parsed JSON body. */
  body: any;
}

/** `POST path` with a JSON body (a string is sent as is) and an optional Bearer token. */
export type JsonPost = (path: string, body?: unknown, token?: string) => Promise<JsonReply>;
/** `GET path` with an optional Bearer token. */
export type JsonGet = (path: string, token?: string) => Promise<JsonReply>;

/** JSON calls to the server at `baseUrl()` (a function: a restarted server has a new URL). */
export function jsonApi(baseUrl: () => string): { post: JsonPost; get: JsonGet } {
  const bearer = (token: string | undefined): Record<string, string> =>
    token === undefined ? {} : { authorization: `Bearer ${token}` };
  return {
    async post(path, body, token) {
      const res = await fetch(`${baseUrl()}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...bearer(token) },
        body:
          body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    async get(path, token) {
      const res = await fetch(`${baseUrl()}${path}`, { headers: bearer(token) });
      return { status: res.status, body: await res.json() };
    },
  };
}

export interface TestAccount {
  token: string;
  user: User;
  role: Role;
  /** What the person signs in with (with the password `TestAccounts` was given). */
  login: string;
}

export class TestAccounts {
  /** Invite code of each organisation created here (a promise: creations run concurrently). */
  private readonly invites = new Map<string, Promise<string>>();
  private seq = 0;

  constructor(
    private readonly post: JsonPost,
    private readonly password: string,
  ) {}

  /** A new account in `org`: creates the organisation on first use, else joins by its invite. */
  async signIn(displayName: string, org: string): Promise<TestAccount> {
    // Unique, and starting with a letter or digit whatever the name starts with.
    const login = `${displayName.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-${++this.seq}`.replace(
      /^-/,
      "u",
    );
    const account = { displayName, login, password: this.password };
    const known = this.invites.get(org);
    if (!known) {
      const created = this.post("/api/auth/organisations", { orgName: org, ...account }).then(
        (res) => {
          if (res.status !== 201) {
            throw new Error(`creating ${org} failed: ${res.status} ${JSON.stringify(res.body)}`);
          }
          if (res.body.user.org !== org) {
            throw new Error(`"${org}" is not a slug (it became "${res.body.user.org}")`);
          }
          return res.body as TestAccount & { invite: { code: string } };
        },
      );
      const code = created.then((body) => body.invite.code);
      // Awaited by later calls; a failure is reported by this call, not as unhandled.
      code.catch(() => {});
      this.invites.set(org, code);
      const { invite: _invite, ...signedIn } = await created;
      return { ...signedIn, login };
    }
    const res = await this.post("/api/auth/join", { code: await known, ...account });
    if (res.status !== 201) {
      throw new Error(`joining ${org} failed: ${res.status} ${JSON.stringify(res.body)}`);
    }
    return { ...(res.body as TestAccount), login };
  }

  /** The invite code of an organisation `signIn` created. */
  inviteCode(org: string): Promise<string> {
    const code = this.invites.get(org);
    if (!code) throw new Error(`No organisation "${org}" was created by signIn yet.`);
    return code;
  }
}
