/**
 * The approval state machine of a tool that needs the user's yes (`deleteNote`), on its own so
 * it is tested without a model or a socket (`approval.test.ts`). The agent actor keeps the one
 * pending approval in its state (plain JSON, so it survives restarts) and calls these functions;
 * they change that state and say what the actor must do next (the tool call's new status and
 * the entry to add to the model's history).
 *
 * A tool call's status moves only forward:
 *
 *   running ──▶ awaiting_approval ──approve──▶ running ──▶ done | error   (executed)
 *                      │
 *                      └──deny / Stop──▶ denied
 *
 * and `running` may also end as `error` (the tool failed, the answer was stopped, the server
 * died). `done`, `denied` and `error` are final. Answering an approval that is not the pending
 * one (unknown, already answered, stopped) is refused with `approval_not_found`; answering while
 * an answer is being generated with `generation_in_progress`.
 *
 * @example
 * const state: ApprovalState = { approval: null };
 * requestApproval(state, { approvalId: "a1", toolCallId: "t1", toolName: "deleteNote", args, messageId, requestedAt });
 * const next = answerApproval(state, "a1", true); // next.toolStatus === "running"
 * answerApproval(state, "a1", true); // throws UserError approval_not_found
 */
import type { ModelMessage } from "ai";
import { UserError } from "troupe";

export type ToolCallStatus = "running" | "awaiting_approval" | "done" | "denied" | "error";

export interface PendingApproval {
  approvalId: string;
  toolCallId: string;
  toolName: string;
  args: unknown;
  messageId: string;
  requestedAt: number;
}

/** The part of the agent's state this machine owns. */
export interface ApprovalState {
  approval: PendingApproval | null;
}

/** What answering or stopping an approval asks of the actor. */
export interface ApprovalOutcome {
  /** The approval that was pending (now cleared from the state). */
  approval: PendingApproval;
  /** The tool call's next status: `running` (approved: the model goes on), or `denied`. */
  toolStatus: ToolCallStatus;
  /** The entry the model's history gets, so the next step knows the answer. */
  history: ModelMessage;
}

const MOVES: Record<ToolCallStatus, readonly ToolCallStatus[]> = {
  running: ["awaiting_approval", "done", "error"],
  awaiting_approval: ["running", "denied", "error"],
  done: [],
  denied: [],
  error: [],
};

/** Whether a tool call may go from `from` to `to` (staying where it is is allowed). */
export function canMove(from: ToolCallStatus, to: ToolCallStatus): boolean {
  return from === to || MOVES[from].includes(to);
}

/**
 * Records the model's request for approval. One waits at a time: the model asks for at most one
 * per step and the step ends there; a second, different request is a bug and throws.
 */
export function requestApproval(state: ApprovalState, request: PendingApproval): PendingApproval {
  const pending = state.approval;
  if (pending && pending.approvalId !== request.approvalId) {
    throw new Error(
      `An approval (${pending.approvalId}) is already pending; cannot ask for ${request.approvalId}.`,
    );
  }
  state.approval = { ...request };
  return { ...request };
}

/** The user's answer to the pending approval. `busy`: an answer is being generated. */
export function answerApproval(
  state: ApprovalState,
  approvalId: string,
  approved: boolean,
  busy = false,
): ApprovalOutcome {
  const approval = state.approval;
  if (!approval || approval.approvalId !== approvalId) {
    throw new UserError("Nothing waits for this approval (it was answered or stopped).", {
      code: "approval_not_found",
    });
  }
  if (busy) {
    throw new UserError("An answer is being generated.", { code: "generation_in_progress" });
  }
  state.approval = null;
  return {
    approval,
    toolStatus: approved ? "running" : "denied",
    history: {
      role: "tool",
      content: [{ type: "tool-approval-response", approvalId, approved }],
    },
  };
}

/** Stop while a tool waits for approval: the tool is denied, with `reason` for the model. */
export function stopApproval(state: ApprovalState, reason: string): ApprovalOutcome | null {
  const approval = state.approval;
  if (!approval) return null;
  state.approval = null;
  return {
    approval,
    toolStatus: "denied",
    history: {
      role: "tool",
      content: [
        {
          type: "tool-result",
          toolCallId: approval.toolCallId,
          toolName: approval.toolName,
          output: { type: "execution-denied", reason },
        },
      ],
    },
  };
}
