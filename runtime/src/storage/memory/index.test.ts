import { runDriverConformance } from "../common.case.test.js";
import { MemoryDriver } from "./index.js";

runDriverConformance("memory", async () => ({
  driver: new MemoryDriver(),
  cleanup: async () => {},
}));
