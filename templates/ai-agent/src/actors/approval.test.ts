// The approval state machine on its own: pending → approved → executed, denied, stopped, a
// second answer, an answer after a restart (the state as storage gives it back), unknown ids.
import { UserError } from "troupe";
import { describe, expect, it } from "vitest";
import {
  type ApprovalState,
  answerApproval,
  canMove,
  type PendingApproval,
  requestApproval,
  stopApproval,
  type ToolCallStatus,
} from "./approval.js";

const request: PendingApproval = {
  approvalId: "approval-1",
  toolCallId: "call-1",
  toolName: "deleteNote",
  args: { query: "milk" },
  messageId: "message-1",
  requestedAt: 1_700_000_000_000,
};

function pending(): ApprovalState {
  const state: ApprovalState = { approval: null };
  requestApproval(state, request);
  return state;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof UserError) return err.code;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("the approval state machine", () => {
  it("pending → approved → executed", () => {
    const state = pending();
    expect(state.approval).toEqual(request);
    // The tool call waits.
    expect(canMove("running", "awaiting_approval")).toBe(true);

    const outcome = answerApproval(state, "approval-1", true);
    expect(state.approval).toBeNull();
    expect(outcome.approval).toEqual(request);
    expect(outcome.toolStatus).toBe("running");
    expect(outcome.history).toEqual({
      role: "tool",
      content: [{ type: "tool-approval-response", approvalId: "approval-1", approved: true }],
    });
    expect(canMove("awaiting_approval", outcome.toolStatus)).toBe(true);
    // Executed: the tool's result (or its failure) ends it.
    expect(canMove("running", "done")).toBe(true);
    expect(canMove("running", "error")).toBe(true);
  });

  it("pending → denied, which is final", () => {
    const state = pending();
    const outcome = answerApproval(state, "approval-1", false);
    expect(outcome.toolStatus).toBe("denied");
    expect(outcome.history.content).toEqual([
      { type: "tool-approval-response", approvalId: "approval-1", approved: false },
    ]);
    expect(state.approval).toBeNull();
    for (const to of ["running", "done", "awaiting_approval", "error"] as ToolCallStatus[]) {
      expect(canMove("denied", to)).toBe(false);
    }
  });

  it("refuses a second answer, whichever it is", () => {
    const state = pending();
    answerApproval(state, "approval-1", true);
    expect(codeOf(() => answerApproval(state, "approval-1", true))).toBe("approval_not_found");
    expect(codeOf(() => answerApproval(state, "approval-1", false))).toBe("approval_not_found");
    // A finished tool call does not start again.
    expect(canMove("done", "running")).toBe(false);
  });

  it("answers after a restart, from the state as storage gives it back", () => {
    const stored = JSON.stringify(pending());
    const woken = JSON.parse(stored) as ApprovalState;
    const outcome = answerApproval(woken, "approval-1", true);
    expect(outcome.approval).toEqual(request);
    expect(outcome.toolStatus).toBe("running");
    expect(woken.approval).toBeNull();
  });

  it("refuses an unknown id and leaves the pending approval as it was", () => {
    const state = pending();
    expect(codeOf(() => answerApproval(state, "approval-2", true))).toBe("approval_not_found");
    expect(codeOf(() => answerApproval({ approval: null }, "approval-1", true))).toBe(
      "approval_not_found",
    );
    expect(state.approval).toEqual(request);
    // Still answerable.
    expect(answerApproval(state, "approval-1", false).toolStatus).toBe("denied");
  });

  it("refuses an answer while an answer is being generated, keeping it pending", () => {
    const state = pending();
    expect(codeOf(() => answerApproval(state, "approval-1", true, true))).toBe(
      "generation_in_progress",
    );
    expect(state.approval).toEqual(request);
  });

  it("Stop denies the waiting tool with the reason for the model; then nothing is pending", () => {
    const state = pending();
    const stopped = stopApproval(state, "The user stopped the answer.");
    expect(stopped?.toolStatus).toBe("denied");
    expect(stopped?.history).toEqual({
      role: "tool",
      content: [
        {
          type: "tool-result",
          toolCallId: "call-1",
          toolName: "deleteNote",
          output: { type: "execution-denied", reason: "The user stopped the answer." },
        },
      ],
    });
    expect(state.approval).toBeNull();
    expect(stopApproval(state, "again")).toBeNull();
    expect(codeOf(() => answerApproval(state, "approval-1", true))).toBe("approval_not_found");
  });

  it("keeps one approval at a time (the same request again is idempotent)", () => {
    const state = pending();
    expect(requestApproval(state, { ...request })).toEqual(request);
    expect(() => requestApproval(state, { ...request, approvalId: "approval-2" })).toThrow(
      /already pending/,
    );
    expect(state.approval?.approvalId).toBe("approval-1");
    // The state holds a copy: changing the request object afterwards changes nothing.
    const mine = { ...request, approvalId: "approval-3" };
    const fresh: ApprovalState = { approval: null };
    requestApproval(fresh, mine);
    mine.toolName = "changed";
    expect(fresh.approval?.toolName).toBe("deleteNote");
  });
});
