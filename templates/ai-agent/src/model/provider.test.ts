// Choosing the model from the environment: the stand-in without configuration, a clear error
// for an incomplete or unreachable provider (never a silent fallback to the stand-in).
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { freePort } from "troupe/test";
import { describe, expect, it } from "vitest";
import { startAgentServer } from "../server.js";
import { assertProviderReachable, chooseModel, ModelConfigError } from "./provider.js";
import { StandInModel } from "./stand-in.js";

const TEMPLATE_DIR = fileURLToPath(new URL("../..", import.meta.url));

describe("chooseModel", () => {
  it("uses the stand-in without configuration, at the pace asked", () => {
    const choice = chooseModel({ STAND_IN_TOKENS_PER_SECOND: "7" });
    expect(choice.model).toBeInstanceOf(StandInModel);
    expect((choice.model as StandInModel).tokensPerSecond).toBe(7);
    expect(choice.label).toMatch(/stand-in/);
    expect(() => chooseModel({ STAND_IN_TOKENS_PER_SECOND: "fast" })).toThrow(ModelConfigError);
  });

  it("builds the configured provider, and refuses an incomplete configuration", () => {
    const openai = chooseModel({
      OPENAI_COMPATIBLE_BASE_URL: "http://127.0.0.1:1/v1/",
      AI_MODEL: "m",
    });
    expect(openai.label).toBe("m at http://127.0.0.1:1/v1");
    expect(openai.probeUrl).toBe("http://127.0.0.1:1/v1/models");
    const ollama = chooseModel({ OLLAMA_BASE_URL: "http://127.0.0.1:1/api", AI_MODEL: "llama3" });
    expect(ollama.probeUrl).toBe("http://127.0.0.1:1/api/tags");
    expect(() => chooseModel({ OPENAI_COMPATIBLE_BASE_URL: "http://x/v1" })).toThrow(/AI_MODEL/);
    expect(() => chooseModel({ OLLAMA_BASE_URL: "http://x/api" })).toThrow(/AI_MODEL/);
    expect(() =>
      chooseModel({
        OLLAMA_BASE_URL: "http://x/api",
        OPENAI_COMPATIBLE_BASE_URL: "http://y",
        AI_MODEL: "m",
      }),
    ).toThrow(/both/);
  });

  it("never falls back to the stand-in when a provider variable is set but incomplete", () => {
    // Empty values, as an uncommented `OLLAMA_BASE_URL=` line in a .env file gives.
    expect(() => chooseModel({ OLLAMA_BASE_URL: "", AI_MODEL: "llama3" })).toThrow(
      /OLLAMA_BASE_URL is set but empty/,
    );
    expect(() => chooseModel({ OPENAI_COMPATIBLE_BASE_URL: " ", AI_MODEL: "m" })).toThrow(
      /OPENAI_COMPATIBLE_BASE_URL is set but empty/,
    );
    expect(() => chooseModel({ OLLAMA_BASE_URL: "http://x/api", AI_MODEL: "" })).toThrow(
      /AI_MODEL is set but empty/,
    );
    // A model or a key without a provider URL.
    expect(() => chooseModel({ AI_MODEL: "llama3" })).toThrow(
      /AI_MODEL is set without a provider URL/,
    );
    expect(() => chooseModel({ AI_MODEL: "m", OPENAI_COMPATIBLE_API_KEY: "k" })).toThrow(
      /AI_MODEL and OPENAI_COMPATIBLE_API_KEY are set without a provider URL/,
    );
    // An empty key alone is no configuration: the stand-in.
    expect(chooseModel({ OPENAI_COMPATIBLE_API_KEY: "" }).model).toBeInstanceOf(StandInModel);
  });
});

describe("a configured provider at start", () => {
  it("that nobody answers stops the start with a sentence naming it", async () => {
    const port = await freePort();
    const choice = chooseModel({
      OLLAMA_BASE_URL: `http://127.0.0.1:${port}/api`,
      AI_MODEL: "llama3",
    });
    await expect(assertProviderReachable(choice)).rejects.toThrow(
      new RegExp(
        `llama3 on Ollama at http://127.0.0.1:${port}/api cannot be reached .*unset the provider variables`,
      ),
    );
    // The server refuses to start (before the database is even asked).
    await expect(
      startAgentServer({
        databaseUrl: "postgres://nobody@127.0.0.1:1/none",
        authSecret: "x".repeat(32),
        model: choice,
        port: 0,
      }),
    ).rejects.toThrow(/cannot be reached/);
  });

  it("stops the app's entry point (src/main.ts) with one line for an unreachable Ollama, never the stand-in", async () => {
    const port = await freePort();
    const proc = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: TEMPLATE_DIR,
      env: {
        ...process.env,
        NODE_ENV: "development",
        PORT: "0",
        // Not asked: the model is checked first (and a database that is not there would say so).
        DATABASE_URL: process.env.DATABASE_URL,
        TROUPE_STORAGE: "memory",
        OLLAMA_BASE_URL: `http://127.0.0.1:${port}/api`,
        AI_MODEL: "llama3",
        AUTH_SECRET: "y".repeat(32),
        AI_AGENT_DEV_WATCH: undefined,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout.on("data", (d) => {
      out += d;
    });
    proc.stderr.on("data", (d) => {
      out += d;
    });
    const code = await new Promise<number | null>((resolve) => proc.once("exit", resolve));
    expect(code).toBe(1);
    expect(out.split("\n").filter((line) => line.startsWith("[ai-agent]"))).toEqual([
      `[ai-agent] could not start: the model provider llama3 on Ollama at http://127.0.0.1:${port}/api cannot be reached (connect ECONNREFUSED 127.0.0.1:${port}). Start it, fix the URL, or unset the provider variables to use the offline stand-in.`,
    ]);
    expect(out).not.toMatch(/ready on|stand-in model \(/);
  });

  it("names Ollama's /api path when its URL lacks it", async () => {
    const server = createServer((_req, res) => {
      res.statusCode = 404;
      res.end("404 page not found");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as { port: number };
    try {
      const choice = chooseModel({ OLLAMA_BASE_URL: `http://127.0.0.1:${port}`, AI_MODEL: "m" });
      await expect(assertProviderReachable(choice)).rejects.toThrow(
        /answered HTTP 404 to .*\/tags\. Ollama's API is under \/api/,
      );
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("that refuses the key, or answers an error, is named with the status", async () => {
    let status = 401;
    const server = createServer((_req, res) => {
      res.statusCode = status;
      res.end("{}");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as { port: number };
    try {
      const choice = chooseModel({
        OPENAI_COMPATIBLE_BASE_URL: `http://127.0.0.1:${port}/v1`,
        AI_MODEL: "gpt-x",
        OPENAI_COMPATIBLE_API_KEY: "wrong",
      });
      await expect(assertProviderReachable(choice)).rejects.toThrow(
        /refused the API key \(HTTP 401\)/,
      );
      status = 500;
      await expect(assertProviderReachable(choice)).rejects.toThrow(/answered HTTP 500/);
      status = 200;
      await expect(assertProviderReachable(choice)).resolves.toBeUndefined();
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
