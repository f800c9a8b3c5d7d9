#!/usr/bin/env node
// The command: the compiled CLI (dist/, made by `pnpm build`) with one line for any refusal.
import { main, UsageError } from "../dist/cli.js";

main().catch((err) => {
  if (err instanceof UsageError) console.error(err.message);
  else console.error(`create-troupe failed: ${err?.stack ?? err}`);
  process.exit(1);
});
