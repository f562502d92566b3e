#!/usr/bin/env bash
# A scripted agent session, decided by agentauthz one tool call at a time.
#
#   ./scripts/demo.sh PATH_TO_AGENTAUTHZ_CLI        (make demo)
#
# ci-bot, a CI/coding agent, works through a day on Acme's repositories
# (policies-examples/coding-agent); then etl-loader, a service account, loads a
# file into object storage (policies-examples/data-pipeline). Before every tool
# call the runtime asks `agentauthz check`; the script prints the call, the
# decision and the policies that determined it.
#
# Then, on a copy of coding-agent with a journal and session keys, docs-bot gets
# a one-hour, task-scoped grant (allowed inside the window, denied after it
# with no call), a signed session token, and is offboarded: the same token is
# rejected and its task revoked.
#
# Every decision is appended to one tamper-evident decision log (target/demo/
# decisions.jsonl, or $DEMO_LOG_DIR/decisions.jsonl); a new rule is then rolled
# out in log-only mode, and the script ends with `agentauthz log verify`,
# `log report` and `log export --format ocsf` on that log, and shows verify
# catching an edited record.
#
# It doubles as a smoke test: it exits 0 only if every decision is the one the
# script expects and the log verifies, 1 otherwise, 2 if it cannot run. Needs
# bash and the CLI.
set -uo pipefail

CLI=${1:-}
if [[ -z "$CLI" || ! -x "$CLI" ]]; then
  echo "usage: $0 PATH_TO_AGENTAUTHZ_CLI   (build it with: make cli)" >&2
  exit 2
fi
CLI=$(cd "$(dirname "$CLI")" && pwd)/$(basename "$CLI")
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
CODING=policies-examples/coding-agent
PIPELINE=policies-examples/data-pipeline
LOG_DIR=${DEMO_LOG_DIR:-target/demo}
LOG=$LOG_DIR/decisions.jsonl
mkdir -p "$LOG_DIR" || exit 2
rm -f "$LOG_DIR"/decisions*.jsonl* "$LOG_DIR"/tampered.jsonl*

if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  BOLD=$'\e[1m' DIM=$'\e[2m' GREEN=$'\e[32m' RED=$'\e[31m' YELLOW=$'\e[33m' RESET=$'\e[0m'
else
  BOLD='' DIM='' GREEN='' RED='' YELLOW='' RESET=''
fi

calls=0
mismatches=0

# call BUNDLE EXPECTED TOOL_CALL REQUEST_JSON
#   EXPECTED: "allow reason,reason", "deny reason,..." ("deny" alone: no policy
#   permits it), or "error CODE". Reasons are compared as a sorted list.
call() {
  local bundle=$1 expected=$2 shown=$3 request=$4
  calls=$((calls + 1))
  local out rc now
  # The scripted time of the call sets the engine clock (`--now`); the engine
  # does not take a request's own `now`.
  now=$(printf '%s' "$request" | sed -n 's/.*,"now":"\([^"]*\)".*/\1/p')
  request=$(printf '%s' "$request" | sed 's/,"now":"[^"]*"//')
  out=$(printf '%s' "$request" | "$CLI" check --bundle "$bundle" --request - --decision-log "$LOG" ${now:+--now "$now"} 2>&1)
  rc=$?

  local decision reasons
  case $rc in
    0 | 1)
      decision=$([[ $rc == 0 ]] && echo allow || echo deny)
      # The Decision JSON is one line: {"decision":...,"reasons":["a","b"],...}
      reasons=$(printf '%s' "$out" | sed -n 's/.*"reasons":\[\([^]]*\)\].*/\1/p' | tr -d '"')
      ;;
    2)
      decision=error
      reasons=$(printf '%s' "$out" | sed -n 's/^error: \[\([a-z_]*\)\].*/\1/p' | head -n 1)
      ;;
    *)
      decision="exit-$rc"
      reasons=
      ;;
  esac
  local got="$decision${reasons:+ $reasons}"

  printf '%s%2d%s %s\n' "$BOLD" "$calls" "$RESET" "$shown"
  local label
  case $decision in
    allow) label="${GREEN}${BOLD}ALLOW${RESET}" ;;
    deny) label="${RED}${BOLD}DENY ${RESET}" ;;
    *) label="${YELLOW}${BOLD}ERROR${RESET}" ;;
  esac
  local why=${reasons//,/, }
  if [[ $decision == deny && -z $why ]]; then
    why="${DIM}no policy permits it${RESET}"
  elif [[ $decision == error ]]; then
    why="$why: ${DIM}$(printf '%s' "$out" | sed -n '1s/^error: \[[a-z_]*\] //p')${RESET}"
  fi
  printf '     %s  %s\n' "$label" "$why"
  if [[ "$got" != "$expected" ]]; then
    mismatches=$((mismatches + 1))
    printf '     %s✗ expected: %s%s\n' "$RED" "$expected" "$RESET"
    printf '     %s  got:      %s%s\n' "$RED" "$out" "$RESET"
  fi
}

heading() {
  printf '\n%s%s%s\n%s%s%s\n' "$BOLD" "$1" "$RESET" "$DIM" "$2" "$RESET"
}

validate() {
  local out
  if ! out=$("$CLI" validate --bundle "$1" 2>&1); then
    printf '%s%s%s\n' "$RED" "$out" "$RESET"
    exit 1
  fi
  printf '%s%s%s\n' "$DIM" "$out" "$RESET"
}

# ---------------------------------------------------------------------------
heading "ci-bot on Acme's repositories — policies-examples/coding-agent" \
  "owner alice · group ci-agents · build network 10.20.0.0/16 · tasks T-42 (feature, 08:00-18:00) and REL-7 (release, 14:00-16:00) · 2026-11-29 UTC"
validate "$CODING"
echo

call "$CODING" "allow coding/read-platform-repos" \
  "09:58  plan: read acme/api to plan the login feature        (task T-42, key ci-bot-key, from 10.20.3.14)" \
  '{"agent":"ci-bot","action":"github:read","resource":{"type":"Repo","id":"acme/api"},"task":"T-42","credential":"ci-bot-key","context":{"source_ip":"10.20.3.14"},"now":"2026-11-29T09:58:00Z"}'

call "$CODING" "deny" \
  "10:04  read acme/payments-core \"to see how sessions work\"     (another project)" \
  '{"agent":"ci-bot","action":"github:read","resource":{"type":"Repo","id":"acme/payments-core"},"task":"T-42","credential":"ci-bot-key","context":{"source_ip":"10.20.3.14"},"now":"2026-11-29T10:04:00Z"}'

call "$CODING" "allow coding/push-feature-branches" \
  "10:20  push feature/login to acme/api" \
  '{"agent":"ci-bot","action":"github:push","resource":{"type":"Repo","id":"acme/api"},"task":"T-42","credential":"ci-bot-key","context":{"branch":"feature/login","source_ip":"10.20.3.14"},"now":"2026-11-29T10:20:00Z"}'

call "$CODING" "allow coding/open-pull-requests" \
  "10:22  open a pull request feature/login -> main" \
  '{"agent":"ci-bot","action":"github:open-pull-request","resource":{"type":"Repo","id":"acme/api"},"task":"T-42","credential":"ci-bot-key","context":{"head":"feature/login","base":"main","source_ip":"10.20.3.14"},"now":"2026-11-29T10:22:00Z"}'

call "$CODING" "deny coding/no-direct-push-default-branch,coding/no-force-push-protected" \
  "10:41  CI is red; \"fix it quickly\": force-push to main" \
  '{"agent":"ci-bot","action":"github:push","resource":{"type":"Repo","id":"acme/api"},"task":"T-42","credential":"ci-bot-key","context":{"branch":"main","force":true,"source_ip":"10.20.3.14"},"now":"2026-11-29T10:41:00Z"}'

call "$CODING" "deny baseline/task-window,coding/release-only-in-release-task" \
  "11:30  push release/2.4 early, before REL-7's window opens" \
  '{"agent":"ci-bot","action":"github:push","resource":{"type":"Repo","id":"acme/api"},"task":"REL-7","credential":"ci-bot-key","context":{"branch":"release/2.4","source_ip":"10.20.3.14"},"now":"2026-11-29T11:30:00Z"}'

call "$CODING" "allow coding/push-release-branches-in-release-task" \
  "14:05  push release/2.4 inside REL-7's window" \
  '{"agent":"ci-bot","action":"github:push","resource":{"type":"Repo","id":"acme/api"},"task":"REL-7","credential":"ci-bot-key","context":{"branch":"release/2.4","source_ip":"10.20.3.14"},"now":"2026-11-29T14:05:00Z"}'

call "$CODING" "deny baseline/credential-expired" \
  "14:09  retry with a cached key, ci-bot-key-2026h1 (expired in June)" \
  '{"agent":"ci-bot","action":"github:push","resource":{"type":"Repo","id":"acme/api"},"task":"REL-7","credential":"ci-bot-key-2026h1","context":{"branch":"release/2.4","source_ip":"10.20.3.14"},"now":"2026-11-29T14:09:00Z"}'

call "$CODING" "deny baseline/no-human-credentials" \
  "14:11  fall back to alice-pat, alice's personal token" \
  '{"agent":"ci-bot","action":"github:push","resource":{"type":"Repo","id":"acme/api"},"task":"REL-7","credential":"alice-pat","context":{"branch":"release/2.4","source_ip":"10.20.3.14"},"now":"2026-11-29T14:11:00Z"}'

call "$CODING" "deny coding/build-network-only" \
  "14:30  the same push from a laptop, 192.168.1.20 (valid key, valid task)" \
  '{"agent":"ci-bot","action":"github:push","resource":{"type":"Repo","id":"acme/api"},"task":"REL-7","credential":"ci-bot-key","context":{"branch":"release/2.4","source_ip":"192.168.1.20"},"now":"2026-11-29T14:30:00Z"}'

call "$CODING" "deny baseline/task-window,coding/release-only-in-release-task" \
  "16:30  one more release push after REL-7 has closed" \
  '{"agent":"ci-bot","action":"github:push","resource":{"type":"Repo","id":"acme/api"},"task":"REL-7","credential":"ci-bot-key","context":{"branch":"release/2.4","source_ip":"10.20.3.14"},"now":"2026-11-29T16:30:00Z"}'

call "$CODING" "deny baseline/unknown-agent" \
  "16:45  shadow-ai, an agent nobody registered, reads acme/api" \
  '{"agent":"shadow-ai","action":"github:read","resource":{"type":"Repo","id":"acme/api"},"context":{"source_ip":"10.20.3.99"},"now":"2026-11-29T16:45:00Z"}'

call "$CODING" "error request_invalid" \
  "16:50  a tool call whose source_ip is not an address" \
  '{"agent":"ci-bot","action":"github:read","resource":{"type":"Repo","id":"acme/api"},"task":"T-42","context":{"source_ip":"runner-7"},"now":"2026-11-29T16:50:00Z"}'

# ---------------------------------------------------------------------------
heading "etl-loader, a service account — policies-examples/data-pipeline" \
  "s3:PutObject into acme-analytics-landing only · via vpce-0a1b2c3d4e5f67890 or 10.40.0.0/16 · task LOAD-1129 and credential etl-loader-session both end at 11:00 UTC"
validate "$PIPELINE"
echo

put() { # NOW BUCKET NETWORK_JSON_FIELD
  printf '{"agent":"etl-loader","action":"s3:PutObject","resource":{"type":"Bucket","id":"%s"},"task":"LOAD-1129","credential":"etl-loader-session","context":{%s,"input":{"key":"incoming/orders/2026-11-29.parquet","content_length":1048576,"server_side_encryption":"aws:kms"}},"now":"%s"}' "$2" "$3" "$1"
}

call "$PIPELINE" "allow pipeline/etl-loader-put-landing" \
  "10:00  PutObject incoming/orders/2026-11-29.parquet into acme-analytics-landing (via the VPC endpoint)" \
  "$(put 2026-11-29T10:00:00Z acme-analytics-landing '"vpc_endpoint":"vpce-0a1b2c3d4e5f67890"')"

call "$PIPELINE" "deny" \
  "10:01  PutObject into acme-finance-exports" \
  "$(put 2026-11-29T10:01:00Z acme-finance-exports '"vpc_endpoint":"vpce-0a1b2c3d4e5f67890"')"

call "$PIPELINE" "deny pipeline/network-boundary" \
  "10:02  PutObject from 198.51.100.23, outside the VPC" \
  "$(put 2026-11-29T10:02:00Z acme-analytics-landing '"source_ip":"198.51.100.23"')"

call "$PIPELINE" "deny baseline/credential-expired,baseline/task-window" \
  "11:05  PutObject after the task and its credential have expired" \
  "$(put 2026-11-29T11:05:00Z acme-analytics-landing '"vpc_endpoint":"vpce-0a1b2c3d4e5f67890"')"

# ---------------------------------------------------------------------------
ROLLOUT=$LOG_DIR/coding-agent-rollout
rm -rf "$ROLLOUT" && cp -R "$CODING" "$ROLLOUT" || exit 2
cat >"$ROLLOUT/policies/rollout.cedar" <<'CEDAR'
// Proposed: release pushes only on behalf of a named human. Rolled out in
// log-only mode first: evaluated and recorded, not enforced.
@id("rollout/release-needs-a-human")
@mode("log-only")
forbid (principal, action == Action::"github:push", resource)
when { context.branch like "release/*" && !(context has on_behalf_of) };
CEDAR
heading "Rolling out a new rule in log-only mode — rollout/release-needs-a-human" \
  "a copy of coding-agent plus one @mode(\"log-only\") forbid: decisions do not change, the log records what it would have decided"
validate "$ROLLOUT"
echo

call "$ROLLOUT" "allow coding/push-release-branches-in-release-task" \
  "14:06  push release/2.4 inside REL-7's window, no on_behalf_of (the new rule would deny it)" \
  '{"agent":"ci-bot","action":"github:push","resource":{"type":"Repo","id":"acme/api"},"task":"REL-7","credential":"ci-bot-key","context":{"branch":"release/2.4","source_ip":"10.20.3.14"},"now":"2026-11-29T14:06:00Z"}'

call "$ROLLOUT" "allow coding/push-release-branches-in-release-task" \
  "14:07  the same push on behalf of alice (the new rule is satisfied)" \
  '{"agent":"ci-bot","action":"github:push","resource":{"type":"Repo","id":"acme/api"},"task":"REL-7","credential":"ci-bot-key","on_behalf_of":"alice","context":{"branch":"release/2.4","source_ip":"10.20.3.14"},"now":"2026-11-29T14:07:00Z"}'

# ---------------------------------------------------------------------------
JIT=$LOG_DIR/coding-agent-jit
rm -rf "$JIT" && cp -R "$CODING" "$JIT" || exit 2
cat >"$JIT/agentauthz.toml" <<'TOML'
# Run-time changes (grants, lifecycle operations) are journaled here and replayed on load.
[journal]
path = "journal.jsonl"

# Signed agent sessions: 15 minutes at most, for the tool gateway.
[sessions]
audience = "tool-gateway"
signing_key_env = "DEMO_SESSION_KEY"
TOML
DEMO_SESSION_KEY=$("$CLI" session keygen --kid demo | sed -n 's/.*"secret":"\([^"]*\)".*/\1/p')
export DEMO_SESSION_KEY
heading "Just-in-time access and offboarding — a copy of coding-agent with a journal" \
  "docs-bot gets push access to acme/web for one hour, only within its task DOC-3; then it is offboarded"

docs_push() { # NOW
  printf '{"agent":"docs-bot","action":"github:push","resource":{"type":"Repo","id":"acme/web"},"task":"DOC-3","context":{"branch":"docs/api-guide","source_ip":"10.20.3.40"},"now":"%s"}' "$1"
}
step() { # SHOWN COMMAND...
  local shown=$1
  shift
  printf '%s    %s%s\n' "$DIM" "$shown" "$RESET"
  "$@"
}

call "$JIT" "deny" \
  "10:02  docs-bot pushes docs/api-guide to acme/web (task DOC-3)" \
  "$(docs_push 2026-11-29T10:02:00Z)"

printf '%s    $ agentauthz grant --agent docs-bot --action github:push --resource %s --task DOC-3 --ttl 3600 --by alice%s\n' \
  "$DIM" "'Repo::\"acme/web\"'" "$RESET"
grant=$("$CLI" grant --bundle "$JIT" --now 2026-11-29T10:05:00Z --decision-log "$LOG" \
  --agent docs-bot --action github:push --resource 'Repo::"acme/web"' --task DOC-3 \
  --ttl 3600 --reason "API guide migration, ticket DOCS-88" --by alice) || exit 1
GRANT=grant/$(printf '%s' "$grant" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
printf '    %s granted 10:05-11:05 UTC (journaled, fsynced)\n' "$GRANT"

call "$JIT" "allow $GRANT" \
  "10:30  the same push, inside the grant's window" \
  "$(docs_push 2026-11-29T10:30:00Z)"

call "$JIT" "deny" \
  "11:06  the same push after the grant expired (nobody revoked it)" \
  "$(docs_push 2026-11-29T11:06:00Z)"

TOKEN=$("$CLI" session issue --bundle "$JIT" --now 2026-11-29T10:40:00Z --agent docs-bot --task DOC-3 \
  | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
printf '%s    10:40  session issued to docs-bot for DOC-3: %s…%s\n' "$DIM" "${TOKEN:0:32}" "$RESET"
session_verify() { # NOW EXPECTED_EXIT LABEL
  local out rc
  out=$("$CLI" session verify --bundle "$JIT" --now "$1" --token "$TOKEN" 2>&1)
  rc=$?
  calls=$((calls + 1))
  printf '%s%2d%s %s\n' "$BOLD" "$calls" "$RESET" "$3"
  if [[ $rc == 0 ]]; then
    printf '     %s%sVALID%s  %s\n' "$GREEN" "$BOLD" "$RESET" "$(printf '%s' "$out" | cut -c 1-90)"
  else
    printf '     %s%sREJECTED%s  %s\n' "$RED" "$BOLD" "$RESET" "$(printf '%s' "$out" | sed -n 's/.*"message":"\([^"]*\)".*/\1/p')"
  fi
  if [[ $rc != "$2" ]]; then
    mismatches=$((mismatches + 1))
    printf '     %s✗ expected exit %s, got %s: %s%s\n' "$RED" "$2" "$rc" "$out" "$RESET"
  fi
}
session_verify 2026-11-29T10:41:00Z 0 "10:41  the tool gateway verifies docs-bot's session token"

step "10:45  $ agentauthz offboard --agent docs-bot --by alice" \
  "$CLI" offboard --bundle "$JIT" --now 2026-11-29T10:45:00Z --decision-log "$LOG" --agent docs-bot --by alice >/dev/null || exit 1
session_verify 2026-11-29T10:46:00Z 1 "10:46  the same session token after docs-bot was offboarded"

call "$JIT" "deny baseline/task-revoked" \
  "10:50  docs-bot pushes again, naming its (now revoked) task DOC-3" \
  "$(docs_push 2026-11-29T10:50:00Z)"

# ---------------------------------------------------------------------------
heading "The decision log — $LOG" \
  "one JSON record per decision, SHA-256 chained; what a SIEM ingests"

show() { printf '\n%s$ agentauthz %s%s\n' "$DIM" "$*" "$RESET"; }

show log verify "$LOG"
if ! "$CLI" log verify "$LOG"; then
  mismatches=$((mismatches + 1))
  printf '%s✗ the decision log does not verify%s\n' "$RED" "$RESET"
fi

show log report "$LOG"
"$CLI" log report "$LOG" || mismatches=$((mismatches + 1))

show log export --format ocsf "$LOG" '| head -n 1'
"$CLI" log export --format ocsf "$LOG" | head -n 1 | cut -c 1-400
printf '%s… (one OCSF API Activity event per record)%s\n' "$DIM" "$RESET"

# Tampering: turn the force-push deny (record 5) into an allow.
sed '5s/"decision":"deny"/"decision":"allow"/' "$LOG" >"$LOG_DIR/tampered.jsonl"
show log verify "$LOG_DIR/tampered.jsonl" '   # record 5 edited: deny -> allow'
"$CLI" log verify "$LOG_DIR/tampered.jsonl"
rc=$?
if [[ $rc -ne 1 ]]; then
  mismatches=$((mismatches + 1))
  printf '%s✗ verify should have found the edit (exit 1), got exit %s%s\n' "$RED" "$rc" "$RESET"
fi

# ---------------------------------------------------------------------------
echo
if [[ $mismatches -eq 0 ]]; then
  printf '%s%d tool calls, every decision as expected.%s\n' "$GREEN" "$calls" "$RESET"
  exit 0
fi
printf '%s%d of %d decisions differ from what the script expects.%s\n' "$RED" "$mismatches" "$calls" "$RESET"
exit 1
