// The playground's starting bundle: a code host where a CI agent may push from
// the private network, nobody pushes to prod, and the baseline guardrails apply.
export const example = {
  schema: `// A code host: agents push to and read repositories.
entity Repo;

action "github:push", "github:read" appliesTo {
  principal: [Agent],
  resource: [Repo],
  context: { source_ip?: ipaddr },
};
`,
  policies: `@id("ci-can-push")
permit (principal in AgentGroup::"ci", action == Action::"github:push", resource)
when { context has source_ip && context.source_ip.isInRange(ip("10.0.0.0/8")) };

@id("anyone-can-read")
permit (principal, action == Action::"github:read", resource);

@id("no-push-to-prod")
forbid (principal, action == Action::"github:push", resource == Repo::"acme/prod");
`,
  inventory: `users:
  - id: alice
    email: alice@example.com
agent_groups:
  - id: ci
agents:
  - id: ci-bot
    owner: alice
    groups: [ci]
  - id: orphan-bot
    groups: [ci]
tasks:
  - id: T-42
    agent: ci-bot
    not_before: "2026-11-29T09:00:00Z"
    not_after: "2026-11-29T11:00:00Z"
resources:
  - type: Repo
    id: acme/api
  - type: Repo
    id: acme/prod
`,
  config: "",
  request: `{
  "agent": "ci-bot",
  "action": "github:push",
  "resource": {"type": "Repo", "id": "acme/api"},
  "context": {"source_ip": "10.1.2.3"},
  "now": "2026-11-29T10:00:00Z"
}
`,
};
