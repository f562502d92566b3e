import type { DecisionJson, PolicyEvaluationError } from "./wire-types.js";

/** The answer to one request. A deny is data, not an error. */
export class Decision {
  readonly allowed: boolean;
  readonly decision: "allow" | "deny";
  /** Ids of the policies (or built-in guards) that decided, sorted. */
  readonly reasons: readonly string[];
  /** Policies whose evaluation errored, sorted by policy id. */
  readonly errors: readonly PolicyEvaluationError[];
  /** A ULID naming this decision (for the decision log). */
  readonly decisionId: string;
  /** The content hash of the bundle that decided (`sha256:…`). */
  readonly policyRevision: string;

  constructor(wire: DecisionJson) {
    this.allowed = wire.decision === "allow";
    this.decision = wire.decision;
    this.reasons = Object.freeze(wire.reasons);
    this.errors = Object.freeze(wire.errors);
    this.decisionId = wire.decision_id;
    this.policyRevision = wire.policy_revision;
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
    };
  }
}
