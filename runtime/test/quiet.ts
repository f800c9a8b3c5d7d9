// Setup file: a passing run prints no log lines (see src/test/quiet.ts).
import { failTestsThatPrint } from "../src/test/quiet.js";

failTestsThatPrint();
