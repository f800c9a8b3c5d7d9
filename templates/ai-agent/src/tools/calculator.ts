/**
 * The calculator tool's evaluator: + - * / % ^ (power, right-associative), parentheses, unary
 * minus, decimal numbers. A small recursive-descent parser rather than `eval` (a model's
 * arguments are untrusted input) or a whole math library for five operators.
 *
 * @example
 * evaluate("(2 + 3) * 4") // 20
 * evaluate("2 ^ 3 ^ 2")   // 512
 */

/** Longest expression accepted (a model can send anything). */
export const MAX_EXPRESSION_CHARS = 200;

export class CalculatorError extends Error {}

export function evaluate(expression: string): number {
  if (expression.length > MAX_EXPRESSION_CHARS) {
    throw new CalculatorError(`An expression is at most ${MAX_EXPRESSION_CHARS} characters.`);
  }
  const tokens = expression.match(/\d+(?:\.\d+)?|\.\d+|[-+*/%^()]|\S/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];

  function expr(): number {
    let v = term();
    while (peek() === "+" || peek() === "-") v = next() === "+" ? v + term() : v - term();
    return v;
  }
  function term(): number {
    let v = power();
    while (peek() === "*" || peek() === "/" || peek() === "%") {
      const op = next();
      const r = power();
      if ((op === "/" || op === "%") && r === 0) throw new CalculatorError("Division by zero.");
      v = op === "*" ? v * r : op === "/" ? v / r : v % r;
    }
    return v;
  }
  function power(): number {
    const base = unary();
    if (peek() === "^") {
      next();
      return base ** power();
    }
    return base;
  }
  function unary(): number {
    if (peek() === "-") {
      next();
      return -unary();
    }
    if (peek() === "+") {
      next();
      return unary();
    }
    return atom();
  }
  function atom(): number {
    const t = next();
    if (t === "(") {
      const v = expr();
      if (next() !== ")") throw new CalculatorError("A parenthesis is not closed.");
      return v;
    }
    if (t !== undefined && /^(?:\d|\.\d)/.test(t)) return Number(t);
    throw new CalculatorError(
      t === undefined ? "The expression ends too early." : `Unexpected "${t}" in the expression.`,
    );
  }

  if (tokens.length === 0) throw new CalculatorError("The expression is empty.");
  const value = expr();
  if (i < tokens.length) throw new CalculatorError(`Unexpected "${tokens[i]}" in the expression.`);
  if (!Number.isFinite(value)) throw new CalculatorError("The result is not a finite number.");
  return value;
}
