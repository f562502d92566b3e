"""Per-call overhead of each framework adapter over a bare ``engine.check``.

    python bench_adapters.py [langchain openai_agents adk crewai llamaindex]

Each adapter decides the same allowed call (``lookup_order``) through its own
entry point, called directly (no agent loop, no model). Prints the median
µs per call of batches, and the difference to a bare ``engine.check`` of the
same request measured in the same run. Not a test: numbers vary with the
machine's load. Adapters whose framework is not installed are skipped (the
Makefile runs each in the venv that has it).
"""

from __future__ import annotations

import asyncio
import importlib.util
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

from agentauthz import Engine
from agentauthz.toolcall import ToolCall, ToolCallGuard

BUNDLE = Path(__file__).resolve().parent / "tests" / "bundles" / "support-agent"
OPTIONS: dict[str, Any] = {
    "agent": "support-bot",
    "resource": ("Account", "acme"),
    "now": "2026-11-29T10:00:00Z",
}
ARGS = {"order_id": "o-1"}
BATCH = 2_000
ROUNDS = 15


def median_us(fn: Callable[[], Any]) -> float:
    for _ in range(BATCH // 4):
        fn()
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(BATCH):
            fn()
        rounds.append((time.perf_counter() - start) / BATCH * 1e6)
    return statistics.median(rounds)


def median_us_async(make: Callable[[], Any]) -> float:
    async def batch() -> float:
        start = time.perf_counter()
        for _ in range(BATCH):
            await make()
        return (time.perf_counter() - start) / BATCH * 1e6

    async def main() -> float:
        await batch()
        return statistics.median([await batch() for _ in range(ROUNDS)])

    return asyncio.run(main())


def langchain(engine: Engine) -> dict[str, float]:
    from agentauthz.langchain import ToolCallAuthorizer

    class Request:
        tool_call = {"name": "lookup_order", "args": ARGS, "id": "c1"}  # noqa: RUF012

    authz = ToolCallAuthorizer(engine, **OPTIONS)
    request = Request()
    handler = lambda r: "ok"  # noqa: E731
    return {"langchain wrap_tool_call": median_us(lambda: authz.wrap_tool_call(request, handler))}  # type: ignore[arg-type]


def openai_agents(engine: Engine) -> dict[str, float]:
    import json

    from agents import Agent, RunContextWrapper
    from agents.tool_context import ToolContext
    from agents.tool_guardrails import ToolInputGuardrailData

    from agentauthz.openai_agents import tool_input_guardrail

    guardrail = tool_input_guardrail(engine, **OPTIONS)
    ctx = ToolContext(
        context=None,
        tool_name="lookup_order",
        tool_call_id="c1",
        tool_arguments=json.dumps(ARGS),
    )
    assert isinstance(ctx, RunContextWrapper)
    data = ToolInputGuardrailData(context=ctx, agent=Agent(name="a"))
    return {"openai_agents guardrail.run": median_us_async(lambda: guardrail.run(data))}


def adk(engine: Engine) -> dict[str, float]:
    from types import SimpleNamespace

    from google.adk.tools import FunctionTool

    from agentauthz.adk import AuthorizationPlugin

    def lookup_order(order_id: str) -> str:
        return order_id

    plugin = AuthorizationPlugin(engine, **OPTIONS)
    tool = FunctionTool(lookup_order)
    ctx: Any = SimpleNamespace(function_call_id="c1")  # the plugin reads only this
    return {
        "adk plugin.before_tool_callback": median_us_async(
            lambda: plugin.before_tool_callback(tool=tool, tool_args=ARGS, tool_context=ctx)
        )
    }


def crewai(engine: Engine) -> dict[str, float]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from crewai.hooks import ToolCallHookContext

    from agentauthz.crewai import AuthorizationHooks

    hooks = AuthorizationHooks(engine, **OPTIONS)
    context = ToolCallHookContext(tool_name="lookup_order", tool_input=dict(ARGS), tool=None)  # type: ignore[arg-type]
    return {"crewai before_tool_call": median_us(lambda: hooks.before_tool_call(context))}


def llamaindex(engine: Engine) -> dict[str, float]:
    from llama_index.core.tools import FunctionTool

    from agentauthz.llamaindex import AuthorizedTool

    def lookup_order(order_id: str) -> str:
        return order_id

    raw = FunctionTool.from_defaults(fn=lookup_order)
    wrapped = AuthorizedTool(raw, ToolCallGuard(engine, **OPTIONS))
    bare_tool = median_us(lambda: raw.call(**ARGS))
    # The wrapper's own cost: its call minus the wrapped tool's.
    return {"llamaindex AuthorizedTool.call": median_us(lambda: wrapped.call(**ARGS)) - bare_tool}


ADAPTERS: dict[str, tuple[str, Callable[[Engine], dict[str, float]]]] = {
    "langchain": ("langchain", langchain),
    "openai_agents": ("agents", openai_agents),
    "adk": ("google.adk", adk),
    "crewai": ("crewai", crewai),
    "llamaindex": ("llama_index.core", llamaindex),
}


def main(names: list[str]) -> None:
    engine = Engine.load(BUNDLE, trust_caller_time=True)
    check = median_us(
        lambda: engine.check(action="lookup_order", context={"input": ARGS}, **OPTIONS)
    )
    rows = {"engine.check (bare)": check}
    rows["engine.check_tool_call"] = median_us(
        lambda: engine.check_tool_call(
            tool="lookup_order", action="lookup_order", input=ARGS, **OPTIONS
        )
    )
    guard = ToolCallGuard(engine, **OPTIONS)
    call = ToolCall("lookup_order", ARGS, id="c1")
    rows["ToolCallGuard.check"] = median_us(lambda: guard.check(call))
    rows["ToolCallGuard.acheck"] = median_us_async(lambda: guard.acheck(call))
    for name in names or list(ADAPTERS):
        module, bench = ADAPTERS[name]
        if importlib.util.find_spec(module.split(".")[0]) is None:
            print(f"# {name}: {module} not installed, skipped")
            continue
        rows.update(bench(engine))
    print(f"{'entry point':36} {'median µs/call':>15} {'over check':>11}")
    for label, us in rows.items():
        print(f"{label:36} {us:15.2f} {us - check:+11.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
