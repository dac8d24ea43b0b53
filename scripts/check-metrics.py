"""Reads a /metrics scrape on stdin with Prometheus's own Python parser
(prometheus_client) and checks it: the families the servers promise, and
label values from fixed sets only (route templates, standard methods,
status codes): after a fuzzing run, no job id or token may appear in a
label.

Usage: curl -s http://127.0.0.1:3000/metrics | python check-metrics.py [--server]
(--server: jobs-server's, which has its Redis call metrics too)
"""

import re
import sys

from prometheus_client.parser import text_string_to_metric_families

REQUIRED = {
    "http_server_request_duration_seconds": "histogram",
    "http_server_open_connections": "gauge",
    "jobs_event_streams_open": "gauge",
    "jobs_event_streams_refused": "counter",
    "jobs_audit_write_failures": "counter",
    "jobs_control_requests": "counter",
}
METHODS = {"GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "_OTHER"}
STATUS = re.compile(r"^[1-5][0-9][0-9]$")
# Route templates: literal segments and {parameters}, never a value.
ROUTE = re.compile(r"^(/([A-Za-z0-9_.-]+|\{[A-Za-z]+\}|\{\*[A-Za-z]+\})?)*$")


SERVER = {
    "jobs_server_redis_call_duration_seconds": "histogram",
    "jobs_server_redis_call_errors": "counter",
}


def main() -> int:
    required = dict(REQUIRED)
    if "--server" in sys.argv[1:]:
        required.update(SERVER)
    text = sys.stdin.read()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    problems = []
    for name, kind in required.items():
        if name not in families:
            problems.append(f"missing family {name}")
        elif families[name].type != kind:
            problems.append(f"{name} is a {families[name].type}, not a {kind}")
    samples = 0
    routes = set()
    for family in families.values():
        for sample in family.samples:
            samples += 1
            for label, value in sample.labels.items():
                ok = {
                    "http_request_method": lambda v: v in METHODS,
                    "http_response_status_code": lambda v: bool(STATUS.match(v)),
                    "http_route": lambda v: v == "" or bool(ROUTE.match(v)),
                    "le": lambda v: True,
                }.get(label, lambda v: len(v) <= 32 and re.match(r"^[a-z_]+$", v) is not None)(value)
                if label == "http_route":
                    routes.add(value)
                if not ok:
                    problems.append(f"{sample.name}: label {label}={value!r} is not from a fixed set")
    if problems:
        print("\n".join(problems[:50]), file=sys.stderr)
        return 1
    print(f"metrics: {len(families)} families, {samples} samples, routes {sorted(routes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
