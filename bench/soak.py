"""Soak the local cloud: a steady stream of writes from every pillar's client at concurrency 16, a kill -9 in the
middle, a restart, then: is every acknowledged item there, and did memory, threads and open files stay flat?

    .venv/bin/python bench/soak.py [--requests 10000] [--concurrency 16]

The local cloud runs as the real background process (free ports, a temporary data directory). Each worker loops
over four writes, each through the client a learner uses, and records what the service acknowledged:

* OpenTelemetry: ``OTLPSpanExporter.export()`` of one span (acknowledged = ``SpanExportResult.SUCCESS``);
* X-Ray: boto3 ``put_trace_segments`` of one segment (acknowledged = not in ``UnprocessedTraceSegments``);
* CloudWatch Logs: boto3 ``put_log_events`` of one event (acknowledged = a 200);
* Rollbar: pyrollbar's payload shape POSTed to ``/api/1/item/`` with its token header (acknowledged = ``err`` 0).

Halfway through, the process is killed with SIGKILL while the stream goes on (calls in flight fail: not
acknowledged), restarted with ``localcloud.start()``, and the stream resumes. At the end every acknowledged item
is looked up (local spans route, BatchGetTraces, FilterLogEvents, Rollbar's item read API). Also printed: the
local cloud's RSS (VmRSS) and peak (VmHWM), threads and open file descriptors, before, after the first half,
and at the end; requests per second. Goal: 100 % of acknowledged items present, RSS under 400 MB, no peak over
1 GB, threads and open files flat. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import lab_app.localcloud as localcloud
from lab_app import config
from lab_app.runner import free_port

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import free_udp_tcp_port

GROUP, STREAM = "soak", "stream"


def proc_figures(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    kb = lambda name: int(fields[name].split()[0]) / 1024  # noqa: E731
    return {"rss_mb": round(kb("VmRSS")), "peak_mb": round(kb("VmHWM")), "threads": int(fields["Threads"]),
            "open_files": len(os.listdir(f"/proc/{pid}/fd"))}


class Acked:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: dict[str, list[str]] = {"span": [], "segment": [], "log": [], "rollbar": []}
        self.failed = 0

    def add(self, kind: str, key: str) -> None:
        with self.lock:
            self.items[kind].append(key)

    def fail(self) -> None:
        with self.lock:
            self.failed += 1


def worker_calls(info, acked: Acked):
    """One set of clients per worker thread (boto3 clients are not shared across threads)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "soak"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("soak")
    exporter = OTLPSpanExporter(endpoint=info.otlp_url + "/v1/traces",
                                headers={"x-honeycomb-team": config.LOCAL_HONEYCOMB_INGEST_KEY}, timeout=5)
    session = boto3.session.Session()
    kwargs = dict(endpoint_url=info.aws_url, region_name=config.REGION, aws_access_key_id=config.LOCAL_AWS_ACCESS_KEY_ID,
                  aws_secret_access_key=config.LOCAL_AWS_SECRET_ACCESS_KEY,
                  config=boto3.session.Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))
    xray, logs = session.client("xray", **kwargs), session.client("logs", **kwargs)
    http = requests.Session()

    def span():
        with tracer.start_as_current_span("soak-span"):
            pass
        finished = memory.get_finished_spans()
        memory.clear()
        if exporter.export(finished) is SpanExportResult.SUCCESS:
            acked.add("span", format(finished[0].context.span_id, "016x"))
        else:
            acked.fail()

    def segment():
        now = time.time()
        trace = f"1-{int(now):08x}-{uuid.uuid4().hex[:24]}"
        doc = {"name": "soak", "id": uuid.uuid4().hex[:16], "trace_id": trace, "start_time": now, "end_time": now + 0.01}
        answer = xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(doc)])
        if not answer["UnprocessedTraceSegments"]:
            acked.add("segment", trace)
        else:
            acked.fail()

    def log():
        message = f"soak {uuid.uuid4()}"
        logs.put_log_events(logGroupName=GROUP, logStreamName=STREAM,
                            logEvents=[{"timestamp": int(time.time() * 1000), "message": message}])
        acked.add("log", message)

    def rollbar():
        body = {"access_token": config.LOCAL_ROLLBAR_POST_TOKEN,
                "data": {"environment": "soak", "level": "error", "body": {"message": {"body": "soak"}},
                         "uuid": str(uuid.uuid4()), "platform": "python", "language": "python"}}
        answer = http.post(info.aws_url + "/api/1/item/", json=body, timeout=10,
                           headers={"X-Rollbar-Access-Token": config.LOCAL_ROLLBAR_POST_TOKEN}).json()
        if answer.get("err") == 0:
            acked.add("rollbar", answer["result"]["uuid"])
        else:
            acked.fail()

    return [span, segment, log, rollbar]


def stream(info, acked: Acked, n: int, concurrency: int, stop_at: int | None = None, on_half=None) -> float:
    counter = {"sent": 0}
    lock = threading.Lock()

    def run():
        calls = worker_calls(info, acked)
        i = 0
        while True:
            with lock:
                if counter["sent"] >= n:
                    return
                counter["sent"] += 1
                sent = counter["sent"]
            if on_half is not None and sent == stop_at:
                threading.Thread(target=on_half, daemon=True).start()
            try:
                calls[i % len(calls)]()
            except Exception:  # a call in flight while the process is down: not acknowledged
                acked.fail()
            i += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(run) for _ in range(concurrency)]:
            future.result()
    return time.perf_counter() - started


def main() -> int:
    import logging

    logging.getLogger("opentelemetry.exporter").setLevel(logging.CRITICAL)   # its retry lines while the cloud is down
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="soak-"))
    spec = dict(data_dir=data_dir, aws_port=free_port(), otlp_port=free_port(), daemon_port=free_udp_tcp_port())
    info = localcloud.start(**spec, set_environ=False, timeout=90)
    boto3.client("logs", endpoint_url=info.aws_url, region_name=config.REGION,
                 aws_access_key_id=config.LOCAL_AWS_ACCESS_KEY_ID,
                 aws_secret_access_key=config.LOCAL_AWS_SECRET_ACCESS_KEY).create_log_group(logGroupName=GROUP)
    boto3.client("logs", endpoint_url=info.aws_url, region_name=config.REGION,
                 aws_access_key_id=config.LOCAL_AWS_ACCESS_KEY_ID,
                 aws_secret_access_key=config.LOCAL_AWS_SECRET_ACCESS_KEY).create_log_stream(
        logGroupName=GROUP, logStreamName=STREAM)
    figures = {"before": proc_figures(info.pid)}
    acked = Acked()
    half = args.requests // 2
    state = {"info": info}

    first = stream(info, acked, half, args.concurrency)
    figures["after first half"] = proc_figures(info.pid)

    def kill_and_restart():
        os.kill(state["info"].pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if os.waitpid(state["info"].pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                break
            time.sleep(0.05)
        state["info"] = localcloud.start(**spec, set_environ=False, timeout=90)

    killer_at = half // 2
    second = stream(info, acked, half, args.concurrency, stop_at=killer_at, on_half=kill_and_restart)
    deadline = time.monotonic() + 120
    while state["info"].pid == info.pid and time.monotonic() < deadline:
        time.sleep(0.1)
    info = state["info"]
    figures["end"] = proc_figures(info.pid)

    # every acknowledged item, looked up
    headers = localcloud.control_headers(info.aws_port)
    spans = requests.get(info.aws_url + "/_localcloud/honeycomb/spans", params={"limit": 10**6}, headers=headers,
                         timeout=120).json()["spans"]
    span_ids = {row["span_id"] for row in spans}
    client = dict(endpoint_url=info.aws_url, region_name=config.REGION, aws_access_key_id=config.LOCAL_AWS_ACCESS_KEY_ID,
                  aws_secret_access_key=config.LOCAL_AWS_SECRET_ACCESS_KEY)
    xray, logs = boto3.client("xray", **client), boto3.client("logs", **client)
    traces = set()
    ids = acked.items["segment"]
    for i in range(0, len(ids), 5):
        traces |= {t["Id"] for t in xray.batch_get_traces(TraceIds=ids[i:i + 5])["Traces"]}
    messages, token = set(), None
    while True:
        page = logs.filter_log_events(logGroupName=GROUP, **({"nextToken": token} if token else {}))
        messages |= {e["message"] for e in page["events"]}
        token = page.get("nextToken")
        if not token:
            break
    items = set()
    page_no = 1
    while True:
        result = requests.get(info.aws_url + "/api/1/items/", params={"page": page_no, "environment": "soak"},
                              headers={"X-Rollbar-Access-Token": config.LOCAL_ROLLBAR_READ_TOKEN}, timeout=30).json()
        got = result["result"]["items"]
        if not got:
            break
        for item in got:
            instance_page = 1
            while True:        # occurrences come 20 per page
                occurrences = requests.get(info.aws_url + f"/api/1/item/{item['id']}/instances/",
                                           params={"page": instance_page},
                                           headers={"X-Rollbar-Access-Token": config.LOCAL_ROLLBAR_READ_TOKEN},
                                           timeout=30).json()["result"]["instances"]
                if not occurrences:
                    break
                items |= {o.get("uuid") or o.get("data", {}).get("uuid") for o in occurrences}
                instance_page += 1
        page_no += 1
    present = {"span": span_ids, "segment": traces, "log": messages, "rollbar": items}
    localcloud.stop(data_dir, info.aws_port)

    total = args.requests
    print(f"soak: {total} requests at concurrency {args.concurrency}, kill -9 after {half + killer_at}; "
          f"{total / (first + second):.0f} requests/s overall ({half / first:.0f}/s before the kill)")
    print(f"  not acknowledged (failed while down or refused): {acked.failed}")
    for kind, keys in acked.items.items():
        found = sum(1 for key in keys if key in present[kind])
        share = 100.0 * found / len(keys) if keys else 100.0
        print(f"  {kind:<8} acknowledged {len(keys):>5}, present after the restart {found:>5} ({share:.1f} %)")
    for when, row in figures.items():
        print(f"  local cloud {when:<17} RSS {row['rss_mb']:>4} MB, peak {row['peak_mb']:>4} MB, "
              f"threads {row['threads']:>3}, open files {row['open_files']:>3}")
    print("  (the end row is the restarted process: its peak is since the restart)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
