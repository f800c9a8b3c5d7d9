// A configured OpenAI-compatible provider, end to end: the app is given only the environment
// variables (`chooseModel`), and a conversation streams what the endpoint streams, with its
// usage; an endpoint that breaks off mid-answer ends the message as "error". The endpoint is a
// small local HTTP server speaking the chat-completions streaming format (no model runs here).
import { createServer, type Server } from "node:http";
import { captureLogger } from "troupe/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp, waitFor } from "../../test/helpers.js";
import type { ChatMessage } from "../actors/index.js";
import { chooseModel } from "./provider.js";

let endpoint: Server;
let app: TestApp;
const requests: { model: string; messages: { role: string }[]; stream: boolean }[] = [];
const logger = captureLogger();

function chunk(delta: object, finish: string | null = null, usage?: object): string {
  return `data: ${JSON.stringify({
    id: "c1",
    object: "chat.completion.chunk",
    created: 1,
    model: "scripted",
    choices: [{ index: 0, delta, finish_reason: finish }],
    ...(usage ? { usage } : {}),
  })}\n\n`;
}

beforeAll(async () => {
  endpoint = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/v1/models") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ object: "list", data: [{ id: "scripted", object: "model" }] }));
      return;
    }
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      const parsed = JSON.parse(body);
      requests.push(parsed);
      const last = parsed.messages.at(-1)?.content ?? "";
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(chunk({ role: "assistant", content: "" }));
      const words = ["Hello ", "from ", "the ", "endpoint."];
      if (String(last).includes("break off")) {
        // The words, then the connection closes in the middle of the response (no finish, no
        // [DONE]): once they are flushed, so the client reads them before the close.
        res.write(words.map((w) => chunk({ content: w })).join(""), () => res.socket?.end());
        return;
      }
      for (const word of words) res.write(chunk({ content: word }));
      res.write(chunk({}, "stop", { prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 }));
      res.end("data: [DONE]\n\n");
    });
  });
  await new Promise<void>((r) => endpoint.listen(0, "127.0.0.1", r));
  const { port } = endpoint.address() as { port: number };
  app = await startTestApp({
    logger,
    model: chooseModel({
      OPENAI_COMPATIBLE_BASE_URL: `http://127.0.0.1:${port}/v1`,
      AI_MODEL: "scripted",
    }),
  });
});
afterAll(async () => {
  await app?.close();
  await new Promise((r) => endpoint?.close(r));
});

describe("an OpenAI-compatible provider", () => {
  it("streams the endpoint's answer into the conversation, with its usage", async () => {
    const ada = await app.user("Ada");
    const { id } = await app.client.agentList
      .getOrCreate([ada.userId], { params: { token: ada.token } })
      .createConversation();
    const conn = app.client.agent.get([ada.userId, id], { params: { token: ada.token } }).connect();
    const messages = new Map<string, ChatMessage>();
    const tokens: string[] = [];
    conn.on("token", (t) => tokens.push(t.delta));
    conn.on("messageUpdated", (m) => messages.set(m.id, m));
    try {
      await waitFor(() => conn.status === "connected");
      const { messageId } = await conn.send("hi there");
      const done = await waitFor(() =>
        messages.get(messageId)?.status === "complete" ? messages.get(messageId) : undefined,
      );
      expect(done.text).toBe("Hello from the endpoint.");
      expect(tokens.join("")).toBe("Hello from the endpoint.");
      expect(done.usage).toEqual({ inputTokens: 11, outputTokens: 4 });
      expect(requests.at(-1)).toMatchObject({ model: "scripted", stream: true });
      expect(requests.at(-1)!.messages.map((m) => m.role)).toEqual(["system", "user"]);
      expect((await conn.getConversation()).model).toBe(
        `scripted at ${new URL(app.url).protocol}//127.0.0.1:${(endpoint.address() as { port: number }).port}/v1`,
      );

      const broken = await conn.send("please break off");
      const failed = await waitFor(() =>
        messages.get(broken.messageId)?.status === "error"
          ? messages.get(broken.messageId)
          : undefined,
      );
      expect(failed.text).toBe("Hello from the endpoint.");
      // The SDK's words, with the network's reason after them.
      expect(failed.error).toMatch(/^Failed to process successful response \(.+\)$/);
      // The history the endpoint gets next holds both turns.
      const again = await conn.send("and now?");
      await waitFor(() => messages.get(again.messageId)?.status === "complete");
      expect(requests.at(-1)!.messages.map((m) => m.role)).toEqual([
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
      ]);
    } finally {
      await conn.dispose();
    }
  });
});
