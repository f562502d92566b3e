// The core's wire types (snake_case JSON, as checkJson, the decision log and
// the journal speak them), generated from the Rust serde types by ts-rs into
// generated/ (`make -C bindings-js generate`); only renamed here.

export type { AgentRequest as AgentRequestWire } from "./generated/AgentRequest";
export type { Approval } from "./generated/Approval";
export type { ApprovalRequest } from "./generated/ApprovalRequest";
export type { CedarRequest as CedarRequestWire } from "./generated/CedarRequest";
export type { Change } from "./generated/Change";
export type { Decision as DecisionJson } from "./generated/Decision";
export type { DecisionRecord } from "./generated/DecisionRecord";
export type { Detail } from "./generated/Detail";
export type { Effect } from "./generated/Effect";
export type { CheckLatency } from "./generated/CheckLatency";
export type { DecisionCount } from "./generated/DecisionCount";
export type { EngineMetrics } from "./generated/EngineMetrics";
export type { Grant as GrantWire } from "./generated/Grant";
export type { GrantRequest as GrantRequestWire } from "./generated/GrantRequest";
export type { JournalEntry } from "./generated/JournalEntry";
export type { LockdownStatus } from "./generated/LockdownStatus";
export type { Location } from "./generated/Location";
export type { McpSchema } from "./generated/McpSchema";
export type { McpWarning } from "./generated/McpWarning";
export type { PolicyError as PolicyEvaluationError } from "./generated/PolicyError";
export type { Request as RequestWire } from "./generated/Request";
export type { SessionClaims as SessionClaimsWire } from "./generated/SessionClaims";
export type { SessionRequest as SessionRequestWire } from "./generated/SessionRequest";
export type { TaskSpec as TaskSpecWire } from "./generated/TaskSpec";
export type { ToolCall as ToolCallWire } from "./generated/ToolCall";
export type { UsageCounts as Usage } from "./generated/UsageCounts";
