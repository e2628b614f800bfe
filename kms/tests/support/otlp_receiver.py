#!/usr/bin/env python3
"""A minimal OTLP/HTTP trace receiver for keyseal's tracing tests (kms/tests/tracing.rs, the JS
suite's tracing test through js/test/harness.mjs).

It decodes every POST /v1/traces body (application/x-protobuf) with the OFFICIAL OpenTelemetry proto
definitions (PyPI `opentelemetry-proto`, pinned in kms/tests/support/requirements-otlp.txt,
installed by scripts/bootstrap.sh into target/otlp-venv), so a span the key service sends that the
standard does not define fails here, not in a hand-written decoder.

  POST /v1/traces   ExportTraceServiceRequest -> 200 ExportTraceServiceResponse (empty)
  GET  /spans       every span received so far, as JSON (ids in lowercase hex, attributes as a map)
  GET  /spans?trace_id=HEX   only that trace's spans
  POST /clear       forgets the spans

Listens on 127.0.0.1 (port from argv[1], 0 = any free port) and prints `OTLP_RECEIVER_URL=http://...`
on stdout once listening. Bad bodies are answered 400 and counted in GET /spans's `rejected`.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

LOCK = threading.Lock()
SPANS = []
REJECTED = []


def any_value(v):
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


def attributes(kvs):
    return {kv.key: any_value(kv.value) for kv in kvs}


def spans_of(req):
    out = []
    for rs in req.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append(
                    {
                        "resource": resource,
                        "scope": ss.scope.name,
                        "trace_id": s.trace_id.hex(),
                        "span_id": s.span_id.hex(),
                        "parent_span_id": s.parent_span_id.hex(),
                        "name": s.name,
                        "kind": s.kind,
                        "start_time_unix_nano": s.start_time_unix_nano,
                        "end_time_unix_nano": s.end_time_unix_nano,
                        "attributes": attributes(s.attributes),
                        "status": {"code": s.status.code, "message": s.status.message},
                        "events": [
                            {"name": e.name, "attributes": attributes(e.attributes)} for e in s.events
                        ],
                        "links": len(s.links),
                    }
                )
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype):
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.send_header("access-control-allow-origin", "*")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        path = urlparse(self.path).path
        if path == "/clear":
            with LOCK:
                SPANS.clear()
                REJECTED.clear()
            return self.reply(200, b"{}", "application/json")
        if path != "/v1/traces":
            return self.reply(404, b"not found", "text/plain")
        ctype = (self.headers.get("content-type") or "").split(";")[0].strip()
        try:
            if ctype != "application/x-protobuf":
                raise ValueError(f"content-type {ctype!r} is not application/x-protobuf")
            req = ExportTraceServiceRequest()
            req.ParseFromString(body)
            got = spans_of(req)
        except Exception as e:  # noqa: BLE001 - any decoding failure is a rejected export
            with LOCK:
                REJECTED.append(str(e))
            return self.reply(400, str(e).encode(), "text/plain")
        with LOCK:
            SPANS.extend(got)
        self.reply(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/spans":
            return self.reply(404, b"not found", "text/plain")
        trace = parse_qs(url.query).get("trace_id", [None])[0]
        with LOCK:
            spans = [s for s in SPANS if trace is None or s["trace_id"] == trace]
            body = json.dumps({"spans": spans, "rejected": list(REJECTED)}).encode()
        self.reply(200, body, "application/json")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # an exporter that goes away mid-request (the key service killed, a timed-out export) is
        # not the receiver's error; anything else still prints
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = Server(("127.0.0.1", port), Handler)
    print(f"OTLP_RECEIVER_URL=http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
