"""An OTLP/HTTP log receiver for the tests, on the official protobuf types
(PyPI `opentelemetry-proto`): decodes each request, appends one JSON line per
log record to OUT, answers with an ExportLogsServiceResponse.

usage: receiver.py PORT OUT [--hang] [--garbage] [--status N]
Prints "ready PORT" once listening on 127.0.0.1.
"""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

PORT = int(sys.argv[1])
OUT = sys.argv[2]
HANG = "--hang" in sys.argv
GARBAGE = "--garbage" in sys.argv
STATUS = (
    int(sys.argv[sys.argv.index("--status") + 1]) if "--status" in sys.argv else 200
)


def value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


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
                                "attributes": {
                                    kv.key: value(kv.value) for kv in r.attributes
                                },
                                "body": value(r.body),
                                "headers": {
                                    k.lower(): v for k, v in self.headers.items()
                                },
                            }
                        )
                    )
        with open(OUT, "a") as f:
            f.write("".join(line + "\n" for line in lines))
        answer = ExportLogsServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print("ready", server.server_address[1], flush=True)
server.serve_forever()
