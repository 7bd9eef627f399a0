"""X-Ray stand-in speed: UDP ingest, trace visibility, and filter expressions over 100,000 traces.

Prints figures and ratios against baselines measured in the same run:
1. UDP ingest at a steady 5,000 segments/s for 10 s into the local cloud process (its own process, as learners
   run it): segments/s stored and segments lost. Baseline: a bare socket that only counts datagrams, fed the
   same way (what the kernel and the sender can do at all).
2. Time from a request's end (the SDK's end_segment) to the trace appearing in GetTraceSummaries. Baseline:
   one GetTraceSummaries round trip.
3. GetTraceSummaries with a compound filter expression over 100,000 stored traces. Baseline: the same call
   with no filter expression.

    python bench/xray.py [--rate 5000] [--seconds 10] [--traces 100000]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3

from lab_app import localcloud
from lab_app.runner import free_port

HEADER = b'{"format":"json","version":1}\n'
COMPOUND = ('service("backend-flask") { fault OR responsetime > 1 } AND annotation.user_handle = "andrewbrown" '
            'AND http.method = "POST" AND !partial')


def free_udp_tcp_port() -> int:
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


def segment(i: int, now: float) -> bytes:
    doc = {"name": "backend-flask", "id": secrets.token_hex(8), "trace_id": f"1-{int(now):08x}-{secrets.token_hex(12)}",
           "start_time": now - 0.05, "end_time": now, "http": {"request": {"url": f"http://127.0.0.1:4567/api/{i % 7}",
                                                                          "method": "GET"},
                                                              "response": {"status": 200}},
           "annotations": {"seq": i}}
    return HEADER + json.dumps(doc, separators=(",", ":")).encode()


def paced_send(port: int, rate: int, seconds: float) -> tuple[int, float]:
    """Send ``rate`` datagrams per second for ``seconds``, evenly, in 1 ms ticks. Returns (sent, elapsed)."""
    now = time.time()
    total = int(rate * seconds)
    payloads = [segment(i, now) for i in range(total)]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.perf_counter()
    sent = 0
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        while sent < due:
            sock.sendto(payloads[sent], ("127.0.0.1", port))
            sent += 1
        time.sleep(0.001)
    elapsed = time.perf_counter() - start
    sock.close()
    return sent, elapsed


def baseline_socket(rate: int, seconds: float) -> tuple[int, int, float]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    count = [0]

    def receive():
        while True:
            try:
                sock.recv(65536)
            except socket.timeout:
                return
            count[0] += 1

    t = threading.Thread(target=receive, daemon=True)
    t.start()
    sent, elapsed = paced_send(sock.getsockname()[1], rate, seconds)
    t.join(timeout=10)
    sock.close()
    return sent, count[0], elapsed


def xray_status(info) -> dict:
    return localcloud.status(info.aws_port)["components"]["xray"]


def bench_udp(info, rate: int, seconds: float) -> None:
    b_sent, b_got, b_elapsed = baseline_socket(rate, seconds)
    before = xray_status(info)["daemon"]["documents"]
    t0 = time.perf_counter()
    sent, elapsed = paced_send(info.daemon_port, rate, seconds)
    stored = 0
    deadline = time.monotonic() + 60
    last, stable = -1, 0
    while time.monotonic() < deadline:
        status = xray_status(info)["daemon"]
        stored = status["documents"] - before
        if stored >= sent:
            break
        stable = stable + 1 if stored == last else 0
        if stable > 20:
            break
        last = stored
        time.sleep(0.1)
    drained = time.perf_counter() - t0
    lost = sent - stored
    print(f"UDP ingest at {rate}/s for {seconds:.0f} s: sent {sent} in {elapsed:.2f} s "
          f"({sent / elapsed:,.0f}/s); stored {stored}, lost {lost} ({lost / sent:.3%}); "
          f"all stored after {drained:.2f} s -> {stored / drained:,.0f} segments/s end to end "
          f"(daemon SO_RCVBUF {status['rcvbuf_bytes']:,} bytes)")
    print(f"  baseline bare socket: received {b_got}/{b_sent} ({b_sent - b_got} lost) at {b_sent / b_elapsed:,.0f}/s; "
          f"ratio stored/baseline-received = {stored / max(b_got, 1):.3f}")


def bench_visibility(info, n: int = 20) -> None:
    from aws_xray_sdk.core import AWSXRayRecorder

    client = boto3.client("xray", endpoint_url=info.aws_url, region_name="us-east-1",
                          aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="example")
    recorder = AWSXRayRecorder()
    recorder.configure(service="visibility", sampling=False, context_missing="LOG_ERROR",
                       daemon_address=f"127.0.0.1:{info.daemon_port}", plugins=())
    os.environ.pop("AWS_XRAY_DAEMON_ADDRESS", None)
    latencies, roundtrips = [], []
    for _ in range(n):
        t = time.time()
        r0 = time.perf_counter()
        client.get_trace_summaries(StartTime=t - 1, EndTime=t + 1, FilterExpression='service("nothing-here")')
        roundtrips.append(time.perf_counter() - r0)
        seg = recorder.begin_segment("visibility")
        seg.put_annotation("run", seg.id)
        recorder.end_segment()  # the request's end: the SDK sends the segment now
        ended = time.perf_counter()
        expr = f'annotation.run = "{seg.id}"'
        deadline = ended + 10
        while time.perf_counter() < deadline:
            found = client.get_trace_summaries(StartTime=t - 5, EndTime=t + 5, FilterExpression=expr)["TraceSummaries"]
            if found:
                latencies.append(time.perf_counter() - ended)
                break
            time.sleep(0.005)
        else:
            latencies.append(float("inf"))
    med, worst = statistics.median(latencies), max(latencies)
    base = statistics.median(roundtrips)
    print(f"Trace visible in GetTraceSummaries after the request ended: median {med * 1000:.0f} ms, "
          f"max {worst * 1000:.0f} ms over {n} requests (goal < 1000 ms); baseline one API round trip "
          f"{base * 1000:.1f} ms; ratio median/round trip = {med / base:.1f}")


def bench_filter(n_traces: int) -> None:
    from lab_app.localcloud.server import LocalCloud

    rng = random.Random(7)
    data_dir = Path(tempfile.mkdtemp(prefix="xray-bench-"))
    cloud = LocalCloud(data_dir, aws_port=0, otlp_port=0, daemon_port=0).start()
    try:
        xray = cloud.component("xray")
        now = time.time() - 3600
        t0 = time.perf_counter()
        batch = []
        for i in range(n_traces):
            start = now + i * 0.01
            trace_id = f"1-{int(start):08x}-{secrets.token_hex(12)}"
            status = rng.choices([200, 404, 500], [90, 6, 4])[0]
            rt = rng.expovariate(1 / 0.3)
            root = {"name": "backend-flask", "id": secrets.token_hex(8), "trace_id": trace_id, "start_time": start,
                    "end_time": start + rt, "http": {"request": {"url": "http://127.0.0.1:4567/api/activities",
                                                                 "method": rng.choice(["GET", "GET", "POST"])},
                                                     "response": {"status": status}},
                    "annotations": {"user_handle": rng.choice(["andrewbrown", "bayko", "londo"]), "n": i}}
            if status >= 500:
                root["fault"] = True
            elif status >= 400:
                root["error"] = True
            batch.append(root)
            if i % 3 == 0:
                call = secrets.token_hex(8)
                root["subsegments"] = [{"id": call, "name": "notifications", "namespace": "remote",
                                        "start_time": start + 0.001, "end_time": start + rt / 2}]
                batch.append({"name": "notifications", "id": secrets.token_hex(8), "trace_id": trace_id,
                              "parent_id": call, "start_time": start + 0.002, "end_time": start + rt / 2 - 0.001})
            if len(batch) >= 5000:
                xray.ingest_documents(batch)
                batch = []
        if batch:
            xray.ingest_documents(batch)
        load = time.perf_counter() - t0
        client = boto3.client("xray", endpoint_url=cloud.aws_url, region_name="us-east-1",
                              aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="example")
        kwargs = {"StartTime": now - 10, "EndTime": now + n_traces * 0.01 + 10}

        def timed(**extra) -> tuple[float, dict]:
            best, answer = float("inf"), None
            for _ in range(5):
                s = time.perf_counter()
                answer = client.get_trace_summaries(**kwargs, **extra)
                best = min(best, time.perf_counter() - s)
            return best, answer

        base, base_answer = timed()
        filt, answer = timed(FilterExpression=COMPOUND)
        print(f"Stored {n_traces:,} traces via ingest_documents in {load:.1f} s ({n_traces / load:,.0f} traces/s)")
        print(f"GetTraceSummaries over {base_answer['TracesProcessedCount']:,} traces: compound filter "
              f"{filt * 1000:.0f} ms (goal < 1000 ms, {len(answer['TraceSummaries'])} summaries on the first page); "
              f"baseline without filter {base * 1000:.0f} ms; ratio {filt / base:.2f}")
        print(f"  filter: {COMPOUND}")
    finally:
        cloud.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--traces", type=int, default=100_000)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="xray-bench-stack-"))
    info = localcloud.start(data_dir=data_dir, aws_port=free_port(), otlp_port=0,
                            daemon_port=0, set_environ=False)
    try:
        bench_udp(info, args.rate, args.seconds)
        bench_visibility(info)
    finally:
        localcloud.stop(data_dir=data_dir, aws_port=info.aws_port)
    bench_filter(args.traces)


if __name__ == "__main__":
    main()
