import type { DecisionJson, Effect, PolicyEvaluationError } from "./wire-types.js";

/** The answer to one request. A deny is data, not an error. */
export class Decision {
  readonly allowed: boolean;
  /** `needs_approval`: held back only by `@approval` forbids (not allowed). */
  readonly decision: Effect;
  /** Ids of the policies (or built-in guards) that decided, sorted. */
  readonly reasons: readonly string[];
  /** Policies whose evaluation errored, sorted by policy id. */
  readonly errors: readonly PolicyEvaluationError[];
  /** A ULID naming this decision (for the decision log). */
  readonly decisionId: string;
  /** The content hash of the bundle that decided (`sha256:…`). */
  readonly policyRevision: string;
  /** A human must approve this exact request first (`decision` is `needs_approval`). */
  readonly requiresApproval: boolean;
  /** Who may approve (`owner`, `team:ID`, `user:ID`), when approval is needed. */
  readonly approvers: readonly string[];
  /** `sha256:<hex>` of the request, when approval is needed or was used. */
  readonly requestDigest: string | null;

  constructor(wire: DecisionJson) {
    this.allowed = wire.decision === "allow";
    this.decision = wire.decision;
    this.reasons = Object.freeze(wire.reasons);
    this.errors = Object.freeze(wire.errors);
    this.decisionId = wire.decision_id;
    this.policyRevision = wire.policy_revision;
    this.requiresApproval = wire.requires_approval ?? false;
    this.approvers = Object.freeze(wire.approvers ?? []);
    this.requestDigest = wire.request_digest ?? null;
    Object.freeze(this);
  }

  /** The core's wire JSON, as every agentauthz surface prints it. */
  toJSON(): DecisionJson {
    return {
      decision: this.decision,
      reasons: [...this.reasons],
      errors: [...this.errors],
      decision_id: this.decisionId,
      policy_revision: this.policyRevision,
      ...(this.requiresApproval ? { requires_approval: true } : {}),
      ...(this.approvers.length > 0 ? { approvers: [...this.approvers] } : {}),
      ...(this.requestDigest !== null ? { request_digest: this.requestDigest } : {}),
    };
  }
}
