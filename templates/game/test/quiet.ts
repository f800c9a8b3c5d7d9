// Setup file: a passing run prints no log lines. Tests that provoke the server's errors pass
// `logger: captureLogger()` (startTestApp, startGameServer) and assert on what it kept; anything
// that still reaches console.error or console.warn fails the test that printed it.
import { failTestsThatPrint } from "troupe/test/quiet";

failTestsThatPrint();
