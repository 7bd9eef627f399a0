"""The X-Ray daemon stand-in: UDP segment documents in, the SDK's sampling calls on TCP.

Local mode: datagrams are parsed and handed to ``ingest`` (the component's ``ingest_documents``); the TCP side
answers ``POST /GetSamplingRules`` and ``POST /SamplingTargets`` from the stored rules.

Cloud mode (``python -m lab_app.localcloud.xray.daemon --forward``): segments go to the real X-Ray API with
PutTraceSegments and the sampling calls are proxied there, both signed with SigV4 from the usual AWS
credential chain, which is what the real daemon does for learners without Docker.

One receiver thread only reads the socket and queues datagrams (large SO_RCVBUF); a worker thread parses
and stores them in batches, so a burst never makes the kernel drop datagrams while we write to DuckDB.
"""
from __future__ import annotations

import argparse
import collections
import errno
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Callable

from werkzeug.wrappers import Request, Response

from lab_app import config
from lab_app.localcloud.guard import Guard
from lab_app.runner import ServerThread

log = logging.getLogger("lab_app.localcloud.xray.daemon")

HEADER = {"format": "json", "version": 1}
RCVBUF_BYTES = 64 * 1024 * 1024
BATCH_MAX = 2000
FLUSH_INTERVAL_S = 0.05
FORWARD_BATCH = 50  # PutTraceSegments takes up to 50 documents per call in practice
QUEUE_MAX_BYTES = 64 * 1024 * 1024  # datagrams waiting for the worker; beyond it they are dropped and counted,
                                    # as the kernel drops them when the socket buffer is full


class MalformedDatagram(ValueError):
    pass


def parse_datagram(data: bytes) -> list[dict]:
    """``{"format":"json","version":1}\\n{segment}`` -> [segment]; raises MalformedDatagram saying why."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedDatagram("not UTF-8") from None
    header_text, sep, body = text.partition("\n")
    if not sep:
        raise MalformedDatagram("no header line")
    try:
        header = json.loads(header_text)
    except (ValueError, RecursionError):
        raise MalformedDatagram("header is not JSON") from None
    if not isinstance(header, dict) or header.get("format") != "json" or header.get("version") != 1:
        raise MalformedDatagram(f"unsupported header {header_text[:80]!r}")
    try:
        doc = json.loads(body)
    except RecursionError:      # e.g. thousands of nested "[": deeper than any segment document
        raise MalformedDatagram("segment body nests deeper than the JSON parser allows") from None
    except ValueError:
        raise MalformedDatagram("segment body is not JSON") from None
    if not isinstance(doc, dict):
        raise MalformedDatagram("segment body is not a JSON object")
    return [doc]


class SigV4Forwarder:
    """Signs and sends X-Ray API calls to a real (or recording) endpoint."""

    def __init__(self, region: str | None = None, endpoint: str | None = None, credentials=None,
                 timeout: float = 5.0):
        import botocore.session

        session = botocore.session.get_session()
        self.region = region or session.get_config_variable("region") or config.REGION
        self.endpoint = (endpoint or f"https://xray.{self.region}.amazonaws.com").rstrip("/")
        self.credentials = credentials or session.get_credentials()
        if self.credentials is None:
            raise RuntimeError("cloud-mode daemon needs AWS credentials: export AWS_ACCESS_KEY_ID/"
                               "AWS_SECRET_ACCESS_KEY or set AWS_PROFILE")
        self.timeout = timeout

    def call(self, path: str, body: bytes) -> tuple[int, dict, bytes]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method="POST", url=self.endpoint + path, data=body,
                             headers={"Content-Type": "application/json"})
        SigV4Auth(self.credentials.get_frozen_credentials() if hasattr(self.credentials, "get_frozen_credentials")
                  else self.credentials, "xray", self.region).add_auth(request)
        prepared = request.prepare()
        http_request = urllib.request.Request(prepared.url, data=body, method="POST", headers=dict(prepared.headers))
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def put_trace_segments(self, docs: list[dict]) -> list[dict]:
        unprocessed: list[dict] = []
        for i in range(0, len(docs), FORWARD_BATCH):
            chunk = docs[i:i + FORWARD_BATCH]
            payload = json.dumps({"TraceSegmentDocuments": [json.dumps(d, separators=(",", ":")) for d in chunk]})
            try:
                status, _, body = self.call("/TraceSegments", payload.encode())
            except OSError as exc:
                log.warning("forwarding %d segments failed: %s", len(chunk), exc)
                unprocessed += [{"Id": d.get("id"), "ErrorCode": "ForwardFailed", "Message": str(exc)} for d in chunk]
                continue
            if status != 200:
                log.warning("PutTraceSegments answered %s: %s", status, body[:200])
                unprocessed += [{"Id": d.get("id"), "ErrorCode": str(status), "Message": body[:200].decode("utf-8", "replace")} for d in chunk]
            else:
                unprocessed += json.loads(body or b"{}").get("UnprocessedTraceSegments", [])
        return unprocessed


class XRayDaemon:
    """UDP + TCP on one port number. ``ingest(docs) -> unprocessed``; ``sampling_app`` is a WSGI app."""

    def __init__(self, host: str, port: int, ingest: Callable[[list[dict]], list[dict]],
                 sampling_app: Callable | None = None, forwarder: SigV4Forwarder | None = None):
        self.host, self.port = host, port
        self.ingest = forwarder.put_trace_segments if forwarder else ingest
        self.forwarder = forwarder
        self.sampling_app = sampling_app
        self.counters = {"datagrams": 0, "documents": 0, "malformed": 0, "unprocessed": 0, "ingest_errors": 0,
                         "dropped": 0, "worker_errors": 0}
        self._queue: collections.deque = collections.deque()
        # bytes waiting = received - taken; each counter is written by one thread only (receiver, worker)
        self._received_bytes = 0
        self._taken_bytes = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._sock: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._tcp: ServerThread | None = None
        self.rcvbuf = 0

    # --- lifecycle -----------------------------------------------------------------------------------
    def _udp_socket(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if option is None:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, RCVBUF_BYTES)
                break
            except OSError:
                continue
        try:
            sock.bind((self.host, port))
        except OSError:
            sock.close()
            raise
        return sock

    def _bind(self) -> tuple[socket.socket, ServerThread]:
        """UDP and TCP on the same port number; for port 0, a number free for both."""
        if self.port:
            sock = self._udp_socket(self.port)
            tcp = ServerThread(Guard(self._tcp_app, self.host), port=self.port, host=self.host, name="xray-daemon-tcp")
            try:
                return sock, tcp.start()
            except BaseException:
                sock.close()
                raise
        for _ in range(20):  # the kernel picks a free TCP port; its UDP twin is almost always free too
            tcp = ServerThread(Guard(self._tcp_app, self.host), port=0, host=self.host,
                               name="xray-daemon-tcp").start()
            try:
                return self._udp_socket(tcp.port), tcp
            except OSError as exc:
                tcp.stop()
                if exc.errno != errno.EADDRINUSE:
                    raise
        raise OSError(errno.EADDRINUSE, "no port number free for both UDP and TCP after 20 tries")

    def start(self) -> "XRayDaemon":
        sock, self._tcp = self._bind()
        self.rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.port = sock.getsockname()[1]
        sock.settimeout(0.2)
        self._sock = sock
        self._stop.clear()
        self._threads = [threading.Thread(target=self._receive, name="xray-daemon-udp", daemon=True),
                         threading.Thread(target=self._work, name="xray-daemon-ingest", daemon=True)]
        for t in self._threads:
            t.start()
        log.info("X-Ray daemon on %s:%s (UDP+TCP), SO_RCVBUF=%d%s", self.host, self.port, self.rcvbuf,
                 f", forwarding to {self.forwarder.endpoint}" if self.forwarder else "")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._tcp is not None:
            self._tcp.stop()
            self._tcp = None

    def status(self) -> dict:
        return {**self.counters, "queued": len(self._queue), "rcvbuf_bytes": self.rcvbuf,
                "mode": "forward" if self.forwarder else "local"}

    def problems(self) -> list[str]:
        """What health reports: a receive or ingest thread that is no longer running."""
        if self._stop.is_set() or not self._threads:
            return []
        return [f"X-Ray daemon: its {t.name} thread has stopped; segments are not stored"
                for t in self._threads if not t.is_alive()]

    # --- UDP -------------------------------------------------------------------------------------------
    def _receive(self) -> None:
        sock, queue, wake = self._sock, self._queue, self._wake
        while not self._stop.is_set():
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            if self._received_bytes - self._taken_bytes + len(data) > QUEUE_MAX_BYTES:
                self.counters["dropped"] += 1
                continue
            self._received_bytes += len(data)
            queue.append(data)
            if len(queue) == 1:
                wake.set()

    def _work(self) -> None:
        while True:
            self._wake.wait(FLUSH_INTERVAL_S)
            self._wake.clear()
            stopping = self._stop.is_set()
            while self._queue:
                try:
                    self._process_batch()
                except Exception:   # a bug in one batch must not stop the daemon for good
                    self.counters["worker_errors"] += 1
                    log.exception("the X-Ray daemon could not process a batch of datagrams")
            if stopping:
                return

    def _process_batch(self) -> None:
        docs: list[dict] = []
        queue = self._queue
        n = 0
        while queue and n < BATCH_MAX:
            data = queue.popleft()
            self._taken_bytes += len(data)
            n += 1
            self.counters["datagrams"] += 1
            try:
                docs.extend(parse_datagram(data))
            except MalformedDatagram as exc:
                self.counters["malformed"] += 1
                log.warning("malformed X-Ray datagram (%s): %r", exc, data[:120])
        if not docs:
            return
        try:
            bad = self.ingest(docs)
        except Exception:  # storing must never kill the daemon; isolate the document that broke the batch
            log.exception("storing %d segment documents failed; retrying one by one", len(docs))
            bad = []
            for doc in docs:
                try:
                    bad += self.ingest([doc])
                except Exception:
                    self.counters["ingest_errors"] += 1
                    bad.append({"Id": doc.get("id"), "ErrorCode": "IngestFailed", "Message": "could not be stored"})
        self.counters["documents"] += len(docs) - len(bad)
        if bad:
            self.counters["unprocessed"] += len(bad)
            self.counters["malformed"] += len(bad)
            for entry in bad[:5]:
                log.warning("rejected X-Ray document: %s", entry)

    # --- TCP (sampling) ------------------------------------------------------------------------------------
    def _tcp_app(self, environ, start_response):
        request = Request(environ)
        if request.method != "POST" or request.path not in ("/GetSamplingRules", "/SamplingTargets"):
            return Response(json.dumps({"__type": "InvalidRequestException",
                                        "message": f"the X-Ray daemon only proxies POST /GetSamplingRules and "
                                                   f"POST /SamplingTargets, not {request.method} {request.path}"}),
                            status=404, content_type="application/json")(environ, start_response)
        if self.forwarder is not None:
            try:
                status, headers, body = self.forwarder.call(request.path, request.get_data())
            except OSError as exc:
                body = json.dumps({"__type": "ServiceUnavailableException", "message": str(exc)}).encode()
                status, headers = 502, {}
            keep = {k: v for k, v in headers.items() if k.lower() in ("content-type", "x-amzn-errortype", "x-amzn-requestid")}
            return Response(body, status=status, headers=keep)(environ, start_response)
        if self.sampling_app is None:
            return Response("no sampling backend", status=503)(environ, start_response)
        return self.sampling_app(environ, start_response)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="X-Ray daemon stand-in. --forward sends to real AWS X-Ray.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2000)
    parser.add_argument("--forward", action="store_true", help="forward to the real X-Ray API (signed)")
    parser.add_argument("--region", default=None)
    parser.add_argument("--endpoint", default=None, help="X-Ray API endpoint (default https://xray.<region>.amazonaws.com)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.forward:
        parser.error("standalone mode only forwards; the local daemon runs inside `python -m lab_app.localcloud serve`")
    daemon = XRayDaemon(args.host, args.port, ingest=lambda docs: [],
                        forwarder=SigV4Forwarder(args.region, args.endpoint)).start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        daemon.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
