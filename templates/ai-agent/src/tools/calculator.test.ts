import { describe, expect, it } from "vitest";
import { CalculatorError, evaluate } from "./calculator.js";

describe("calculator", () => {
  it("follows precedence, associativity and parentheses", () => {
    expect(evaluate("(2 + 3) * 4")).toBe(20);
    expect(evaluate("2 + 3 * 4")).toBe(14);
    expect(evaluate("2 ^ 3 ^ 2")).toBe(512);
    expect(evaluate("-2 ^ 2")).toBe(4);
    expect(evaluate("10 - 4 - 3")).toBe(3);
    expect(evaluate("7 % 4 + .5")).toBe(3.5);
  });

  it("refuses what is not arithmetic, with a reason", () => {
    expect(() => evaluate("1 / 0")).toThrow(CalculatorError);
    expect(() => evaluate("(1 + 2")).toThrow("A parenthesis is not closed.");
    expect(() => evaluate("process.exit()")).toThrow(/Unexpected/);
    expect(() => evaluate("")).toThrow("The expression is empty.");
    expect(() => evaluate("9 ^ 9 ^ 9")).toThrow("The result is not a finite number.");
    expect(() => evaluate("1+".repeat(150))).toThrow(/at most/);
  });
});
