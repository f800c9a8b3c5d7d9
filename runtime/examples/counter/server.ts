// Serves the counter registry on $PORT (default 6420), state on disk in ./.troupe/data.
import { registry } from "./actors.js";

const server = registry.serve();
await server.ready;
console.log(`Troupe counter example listening on ${server.url}`);
console.log(`  metadata:  ${server.url}/api/troupe/metadata`);
console.log(
  `  increment: curl -X POST ${server.url}/api/troupe/actors/action/increment -H 'content-type: application/json' -d '{"actor":{"name":"counter","key":["demo"],"mode":"getOrCreate"},"args":[1]}'`,
);

const stop = async () => {
  await server.close();
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
