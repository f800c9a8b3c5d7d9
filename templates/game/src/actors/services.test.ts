import { describe, expect, it } from "vitest";
import { tuningFromEnv } from "./services.js";

describe("tuningFromEnv", () => {
  it("reads the variables that are set, and only those", () => {
    expect(tuningFromEnv({})).toEqual({});
    expect(
      tuningFromEnv({ GAME_MATCH_SIZE: "2", GAME_MATCH_DURATION_MS: "30000", OTHER: "1" }),
    ).toEqual({ matchSize: 2, matchDurationMs: 30000 });
  });

  it("refuses what is not a whole number, naming the variable", () => {
    expect(() => tuningFromEnv({ GAME_COUNTDOWN_MS: "soon" })).toThrow(
      'GAME_COUNTDOWN_MS must be a whole number (at least 0), not "soon".',
    );
    expect(() => tuningFromEnv({ GAME_MATCH_SIZE: "0" })).toThrow(/GAME_MATCH_SIZE/);
  });
});
