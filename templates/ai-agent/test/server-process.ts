/**
 * The agent server as a child process, for tests that kill it (`kill -9`) mid-answer. Reads its
 * setup from the environment (DATABASE_URL, TEST_DATA_DIR, PORT, STAND_IN_TOKENS_PER_SECOND),
 * prints `ready <url>` on stdout once it listens.
 */
import { StandInModel } from "../src/model/stand-in.js";
import { startAgentServer } from "../src/server.js";
import { TEST_SECRET } from "./helpers.js";

const server = await startAgentServer({
  port: Number(process.env.PORT ?? 0),
  hostname: "127.0.0.1",
  authSecret: TEST_SECRET,
  databaseUrl: process.env.DATABASE_URL!,
  storage: { driver: "file", path: process.env.TEST_DATA_DIR! },
  model: {
    model: new StandInModel({
      tokensPerSecond: Number(process.env.STAND_IN_TOKENS_PER_SECOND ?? 50),
    }),
    label: "offline stand-in model",
  },
  tuning: { saveIntervalMs: Number(process.env.SAVE_INTERVAL_MS ?? 100) },
});
process.stdout.write(`ready ${server.url}\n`);
