"""An OTLP/HTTP log and metrics receiver for the tests, on the official
protobuf types (PyPI `opentelemetry-proto`): decodes each request to
/v1/logs, appends one JSON line per log record to OUT, answers with an
ExportLogsServiceResponse; decodes each request to /v1/metrics into one JSON
line per request in OUT.metrics, answers with an ExportMetricsServiceResponse.

usage: receiver.py PORT OUT [--hang] [--garbage] [--status N]
Prints "ready PORT" once listening on 127.0.0.1.
"""

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

PORT = int(sys.argv[1])
OUT = sys.argv[2]
HANG = "--hang" in sys.argv
GARBAGE = "--garbage" in sys.argv
STATUS = int(sys.argv[sys.argv.index("--status") + 1]) if "--status" in sys.argv else 200


def value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def append(path, text):
    """One write(2) per batch, so a receiver killed mid-batch leaves whole
    lines (a buffered file may split a large batch into several writes)."""
    data = text.encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


def drop_torn_tail(path):
    """A predecessor killed inside a write may have left half a line: keep
    only whole lines, as a receiver recovering its own store would."""
    try:
        with open(path, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        pass


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if HANG:
            time.sleep(3600)
        if GARBAGE:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"\xff" * 200000)
            return
        if STATUS != 200:
            self.send_response(STATUS)
            self.end_headers()
            return
        if self.path == "/v1/metrics":
            self.metrics(body)
            return
        req = ExportLogsServiceRequest()
        req.ParseFromString(body)
        lines = []
        for rl in req.resource_logs:
            resource = {kv.key: value(kv.value) for kv in rl.resource.attributes}
            for sl in rl.scope_logs:
                for r in sl.log_records:
                    lines.append(
                        json.dumps(
                            {
                                "resource": resource,
                                "scope": sl.scope.name,
                                "time_unix_nano": r.time_unix_nano,
                                "severity_number": r.severity_number,
                                "severity_text": r.severity_text,
                                "event_name": r.event_name,
                                "attributes": {kv.key: value(kv.value) for kv in r.attributes},
                                "body": value(r.body),
                                "headers": {k.lower(): v for k, v in self.headers.items()},
                            }
                        )
                    )
        append(OUT, "".join(line + "\n" for line in lines))
        answer = ExportLogsServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def metrics(self, body):
        req = ExportMetricsServiceRequest()
        req.ParseFromString(body)
        metrics = []
        for rm in req.resource_metrics:
            resource = {kv.key: value(kv.value) for kv in rm.resource.attributes}
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    data = getattr(m, kind)
                    points = []
                    for p in data.data_points:
                        point = {
                            "attributes": {kv.key: value(kv.value) for kv in p.attributes},
                            "start": p.start_time_unix_nano,
                            "time": p.time_unix_nano,
                        }
                        if kind == "histogram":
                            point.update(
                                count=p.count,
                                sum=p.sum,
                                bucket_counts=list(p.bucket_counts),
                                explicit_bounds=list(p.explicit_bounds),
                            )
                        else:
                            point["value"] = getattr(p, p.WhichOneof("value"))
                        points.append(point)
                    metrics.append(
                        {
                            "name": m.name,
                            "unit": m.unit,
                            "kind": kind,
                            "temporality": getattr(data, "aggregation_temporality", None),
                            "monotonic": getattr(data, "is_monotonic", None),
                            "resource": resource,
                            "scope": sm.scope.name,
                            "points": points,
                        }
                    )
        append(OUT + ".metrics", json.dumps({"metrics": metrics}) + "\n")
        answer = ExportMetricsServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


drop_torn_tail(OUT)
drop_torn_tail(OUT + ".metrics")
server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print("ready", server.server_address[1], flush=True)
server.serve_forever()
