// Setup file: a passing run prints no log lines. The chat servers' output is kept by
// support/chat-server.ts (`output()`, shown when a start fails); anything that still reaches
// console.error or console.warn in a test fails the test that printed it.
import { failTestsThatPrint } from "troupe/test/quiet";

failTestsThatPrint();
