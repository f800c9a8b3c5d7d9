// The bench's counter as a Cloudflare Worker (BENCH_TARGETS=workerd): one Durable Object per key,
// run locally on workerd by bench/actions.ts.
import { actor, setup } from "troupe";
import { createHandler } from "troupe/cloudflare";

const counter = actor({
  state: { count: 0 },
  actions: { increment: (c, amount: number) => (c.state.count += amount) },
  options: { sleepTimeout: 600_000 },
});

const { handler, ActorHandler } = createHandler(setup({ use: { counter } }));

export { ActorHandler, handler as default };
