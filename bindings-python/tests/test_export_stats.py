"""decision_log_stats: the exporting sink's counters, from Python. A receiver
that is down leaves records spooled, unacknowledged and counted as failed
deliveries; once a receiver answers, every record is acknowledged. Any other
sink has no counters (None)."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from agentauthz import Engine

from conftest import REPO, bundle_strings

BUNDLE = REPO / "policies-examples" / "coding-agent"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def engine_with_otlp(port: int, spool: Path) -> Engine:
    strings = bundle_strings(BUNDLE)
    strings["config"] = (
        f'[log.otlp]\nendpoint = "http://127.0.0.1:{port}/v1/logs"\n'
        f'spool = "{spool}"\ntimeout_ms = 500\n'
    )
    return Engine.from_strings(**strings, trust_caller_time=True)


def push(engine: Engine, branch: str) -> None:
    engine.check(
        agent="ci-bot",
        action="github:push",
        resource=("Repo", "acme/api"),
        task="T-42",
        credential="ci-bot-key",
        context={"branch": branch, "source_ip": "10.20.3.14"},
        now="2026-11-29T10:20:00Z",
    )


def wait_for(engine: Engine, ok: Any, seconds: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        stats = engine.decision_log_stats
        assert stats is not None
        if ok(stats) or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


class Ack(BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver that acknowledges every request (an empty
    ExportLogsServiceResponse is zero bytes of protobuf)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_counters_through_an_outage_and_a_recovery(tmp_path: Path) -> None:
    port = free_port()
    engine = engine_with_otlp(port, tmp_path / "spool")
    for branch in ("main", "feature/x", "feature/y"):
        push(engine, branch)
    down = wait_for(engine, lambda s: s["failures"] >= 1)
    assert down["spooled_seq"] == 3
    assert down["acked_seq"] == 0
    assert down["sent"] == 0
    assert down["dropped"] == 0
    assert down["failures"] >= 1
    assert down["spool_bytes"] > 0
    assert down["last_error"]

    server = ThreadingHTTPServer(("127.0.0.1", port), Ack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        up = wait_for(engine, lambda s: s["acked_seq"] == 3)
        assert up["acked_seq"] == 3
        assert up["sent"] == 3
        assert up["dropped"] == 0
    finally:
        server.shutdown()
        server.server_close()


def test_other_sinks_have_no_counters() -> None:
    records: list[dict[str, Any]] = []
    engine = Engine.load(str(BUNDLE), decision_log=records.append, trust_caller_time=True)
    push(engine, "main")
    assert len(records) == 1
    assert engine.decision_log_stats is None
    assert Engine.load(str(BUNDLE)).decision_log_stats is None
