// Typed usage of the package, checked with `tsc --noEmit` against the
// generated declarations of both builds. Lines marked @ts-expect-error must fail to type-check.
import * as node from "../../pkg/node/node.js";
import init, * as web from "../../pkg/web/web.js";
import type {
  AgentRequest,
  CheckRequest,
  Decision,
  DecisionLogHead,
  DecisionRecord,
  ErrorCode,
  ErrorCodeInfo,
  ErrorFamily,
  StringsInput,
  ToolCallInput,
} from "../../pkg/node/node.js";

const bundle: StringsInput = {
  schema: "entity Repo;",
  policies: { "repos.cedar": '@id("p")\npermit (principal, action, resource);' },
  inventory: "agents: []",
};
const arrayBundle: StringsInput = { schema: "", policies: ["a", "b"] };
const stringBundle: StringsInput = { schema: "", policies: "text", config: "[baseline]" };

export function lifecycleUsage(): string[] {
  const engine = node.Engine.fromStrings(bundle);
  const request: node.GrantRequest = {
    agent: "ci-bot",
    actions: ["github:push"],
    resource: { type: "Repo", id: "acme/api" },
    ttlSeconds: 600,
    reason: "hotfix",
    grantedBy: "alice",
  };
  const grant: node.Grant = engine.grant(request);
  engine.grant({ ...request, ttlSeconds: undefined, until: new Date(), starts: "2026-11-29T10:00:00Z", task: "T-1" });
  const listed: node.Grant[] = engine.grants("ci-bot");
  const text: string | null = engine.grantPolicyText(grant.id);
  engine.revoke(grant.id, { by: "alice" });
  engine.suspend("ci-bot", { by: "alice" });
  engine.reactivate("ci-bot", { by: "alice" });
  engine.rotateCredential("key", { expires: new Date(), by: "alice" });
  engine.transferOwner("ci-bot", { owner: "bob", by: "alice" });
  const task: node.TaskSpec = { id: "T-9", agent: "ci-bot", notBefore: new Date(), notAfter: "2026-11-30T00:00:00Z" };
  engine.addTask(task, { by: "alice" });
  engine.offboard("ci-bot", { by: "alice" });
  const entry: node.JournalEntry = engine.apply({ op: "suspend", agent: "ci-bot" }, { by: "alice" });
  const seq: number = entry.seq;
  const err: node.AuthzError = new node.LifecycleError("m", { code: "grant_invalid" });
  // @ts-expect-error: a change needs who makes it
  engine.suspend("ci-bot");
  // @ts-expect-error: grantedBy is required
  engine.grant({ agent: "a", actions: [], resource: { type: "T", id: "1" }, ttlSeconds: 1, reason: "r" });
  // @ts-expect-error: not an operation
  engine.apply({ op: "explode" }, { by: "alice" });
  return [grant.grantedBy, String(listed.length), text ?? "", String(seq), err.code, grant.expires];
}

export function decisionLogUsage(): void {
  const records: DecisionRecord[] = [];
  const engine = node.Engine.fromStrings(bundle, { decisionLog: (r) => records.push(r) });
  engine.setDecisionLog((r: DecisionRecord) => console.log(r.seq, r.would_decision, r.context));
  engine.setDecisionLog(null);
  engine.flushDecisionLog();
  const head: DecisionLogHead | null = engine.decisionLogHead;
  const mode: "enforce" | "log-only" = engine.mode;
  // @ts-expect-error there is no filesystem: a sink is a function
  engine.setDecisionLog("decisions.jsonl");
  console.log(head, mode);
}

export function toolCallUsage(): Decision {
  const engine = node.Engine.fromStrings(bundle);
  const call: ToolCallInput = { tool: "refund", action: null, agent: "a", resource: { type: "A", id: "x" }, input: { n: 1.5 } };
  // @ts-expect-error a tool call names its tool
  engine.checkToolCall({ action: "refund", agent: "a", resource: { type: "A", id: "x" } });
  return engine.checkToolCall(call);
}

export function nodeUsage(): string[] {
  const engine: node.Engine = node.Engine.fromStrings(bundle);
  const request: AgentRequest = {
    agent: "ci-bot",
    action: "github:push",
    resource: { type: "Repo", id: "acme/api" },
    onBehalfOf: "alice",
    task: "T-42",
    credential: "cred-7",
    context: { source_ip: "10.1.2.3", input: { branch: "main" } },
    now: new Date(),
  };
  const cedar: CheckRequest = {
    principal: { type: "Agent", id: "ci-bot" },
    action: { type: "Action", id: "github:read" },
    resource: { type: "Repo", id: "acme/api" },
  };
  const d: Decision = engine.check(request);
  const allowed: boolean = d.allowed;
  const effect: "allow" | "deny" | "needs_approval" = d.decision;
  const reasons: readonly string[] = d.reasons;
  const firstError: string | undefined = d.errors[0]?.policy;
  const id: string = d.decisionId;
  const rev: string = d.policyRevision;
  const wire: { decision_id: string } = d.toJSON();
  const batch: Decision[] = engine.checkBatch([request, cedar, { ...request, now: "2026-11-29T10:00:00Z" }]);
  engine.reload(arrayBundle);
  engine.reload(stringBundle);
  const revision: string = engine.policyRevision;
  try {
    engine.check(request);
  } catch (e) {
    if (e instanceof node.RequestError) {
      const code: ErrorCode = e.code;
      const family: ErrorFamily = e.family;
      const where = e.details[0]?.location;
      const line: number | undefined = where?.line;
      void [code, family, line];
    } else if (e instanceof node.AuthzError) {
      const known: ErrorCode = "policy_parse";
      void known;
    }
  }
  const codes: ErrorCodeInfo[] = node.errorCodes();
  const table: readonly ErrorCodeInfo[] = node.ERROR_CODES;
  const cls: typeof node.AuthzError = node.errorClassFor("policy_parse");
  const wireOut: string = engine.checkJson('{"agent": "a"}');
  const err = new node.RequestError("[request_parse] x", { code: "request_parse" });
  void [table, cls, wireOut, err];
  engine.free();
  void [allowed, effect, reasons, firstError, id, rev, wire, batch, codes];
  return [revision, node.coreVersion()];

  // @ts-expect-error resource is an {type, id} reference, not a string
  engine.check({ agent: "a", action: "b", resource: "Repo::x" });
  // @ts-expect-error onBehalfOf is a User id
  engine.check({ agent: "a", action: "b", resource: { type: "R", id: "x" }, onBehalfOf: { type: "User", id: "alice" } });
  // @ts-expect-error unknown request fields are refused
  engine.check({ agent: "a", action: "b", resource: { type: "R", id: "x" }, tusk: "T-1" });
  // @ts-expect-error the error info is an object
  new node.PolicyError("m", "policy_parse");
  // @ts-expect-error now is a Date or an ISO string
  engine.check({ agent: "a", action: "b", resource: { type: "R", id: "x" }, now: 1764410400000 });
  // @ts-expect-error the schema is required
  node.Engine.fromStrings({ policies: "" });
  // @ts-expect-error there is no constructor: use Engine.fromStrings
  new node.Engine();
  // @ts-expect-error not a stable error code
  const bad: ErrorCode = "policy_error";
  // @ts-expect-error decisions are read-only
  d.allowed = false;
  void bad;
}

export async function webUsage(): Promise<boolean> {
  await init();
  await init(new URL("https://example.invalid/agentauthz_wasm_bg.wasm"));
  web.initSync(new Uint8Array(0));
  const engine = web.Engine.fromStrings(bundle);
  const d: web.Decision = engine.check({ agent: "a", action: "b", resource: { type: "R", id: "x" } });
  // @ts-expect-error checkBatch takes an array
  engine.checkBatch({ agent: "a", action: "b", resource: { type: "R", id: "x" } });
  return d.allowed && engine instanceof web.Engine && new web.PolicyError("m", { code: "policy_parse" }) instanceof web.AuthzError;
}

// A manual clock (tests): every check, change and session at its time.
{
  const clock = new node.ManualClock("2026-11-29T10:00:00Z");
  clock.advance(90.5);
  clock.set(new Date("2026-11-30T00:00:00Z"));
  const now: string = clock.now;
  void now;
  node.Engine.fromStrings(bundle, { clock });
  // @ts-expect-error a clock is a ManualClock, not a time
  node.Engine.fromStrings(bundle, { clock: "2026-11-29T10:00:00Z" });
  // @ts-expect-error seconds are a number
  clock.advance("60");
}
