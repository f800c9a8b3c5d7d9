// Setup file: a passing run prints no log lines. What the CLI and the generated apps print is
// captured by the helpers (and shown when a step fails); anything that still reaches
// console.error or console.warn fails the test that printed it.
import { failTestsThatPrint } from "troupe/test/quiet";

failTestsThatPrint();
