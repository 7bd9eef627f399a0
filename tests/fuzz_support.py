"""The fuzz suite's parts: a seeded generator of hostile input (botocore shapes, JSON, bytes, query-language token
soup), the local cloud's WSGI apps called directly (the gateway exactly as its server runs it, without the socket
and the thread per connection) or over HTTP, and the rules every fuzzed endpoint keeps.

Every endpoint gets at least ``EXAMPLES`` generated inputs; each answer must be a success or a client error (never
a 5xx) within ``MAX_SECONDS``, and the endpoint must answer a known-good request correctly afterwards, over HTTP.
Generation is seeded by the endpoint's name, so CI and every xdist worker send the same inputs, and a failure's
report names the input's index and shows it. (hypothesis generated the same inputs at 2.4-7 ms each; this
generator takes about 0.05 ms, which is what lets 2,000 inputs per endpoint run in seconds.)
"""
from __future__ import annotations

import base64
import io
import json
import random
import re
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Callable, Iterable
from urllib.parse import quote, unquote

import boto3
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lab_app import config

EXAMPLES = 2000
MAX_SECONDS = 2.0
REGION = config.REGION


# ---- answers and the rules ---------------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def error_code(answer: Answer) -> str:
    """The error code of an AWS-shaped (JSON or XML), Honeycomb or Rollbar answer, for the run's summary."""
    try:
        body = json.loads(answer.body)
    except ValueError:
        match = re.search(rb"<Code>([^<]+)</Code>", answer.body)
        return match.group(1).decode() if match else answer.headers.get("x-amzn-errortype", "?")
    if isinstance(body, dict):
        code = body.get("__type") or body.get("code") or body.get("Code") or body.get("error") or body.get("message")
        return str(code).rsplit("#", 1)[-1][:40]
    return "?"


@dataclass
class Tally:
    """What one endpoint's run saw: how many inputs, the statuses and error codes, the slowest request, and the
    inputs that broke a rule (a 5xx or a request over MAX_SECONDS)."""

    name: str
    count: int = 0
    statuses: Counter = field(default_factory=Counter)
    codes: Counter = field(default_factory=Counter)
    slowest: float = 0.0
    broken: list[str] = field(default_factory=list)
    resent: int = 0             # inputs sent again after a first answer over MAX_SECONDS (see fuzz())

    def record(self, answer: Answer, described: Any) -> None:
        self.count += 1
        self.statuses[answer.status] += 1
        self.slowest = max(self.slowest, answer.seconds)
        if answer.status >= 400:
            self.codes[error_code(answer)] += 1
        if answer.status >= 500 or answer.seconds >= MAX_SECONDS:
            self.broken.append(f"#{self.count - 1}: {answer.status} in {answer.seconds:.2f} s for "
                               f"{described!r:.500} -> {answer.body[:300]!r}")

    def summary(self) -> str:
        return (f"{self.name}: {self.count} inputs, statuses {dict(sorted(self.statuses.items()))}, slowest "
                f"{self.slowest * 1000:.0f} ms; errors {self.codes.most_common(6)}"
                + (f"; {self.resent} sent again after a slow first answer" if self.resent else ""))

    def done(self, minimum: int = EXAMPLES) -> None:
        print(self.summary())
        assert not self.broken, f"{len(self.broken)} inputs broke the rules:\n" + "\n".join(self.broken[:5])
        assert self.count >= minimum, f"{self.name}: only {self.count} inputs were sent"


def fuzz(name: str, inputs: Iterable[Any], send: Callable[[Any], Answer], minimum: int = EXAMPLES) -> Tally:
    """Send every input, record each answer, then assert the rules held for all of them.

    An input answered in ``MAX_SECONDS`` or more is sent once more, and its time is the faster of the two: a loaded
    machine (CI runs two workers and a browser on two cores) can stall any one request, while an input that is
    slow to handle (a regex blow-up, a pattern too large) is slow both times and still breaks the rule."""
    tally = Tally(name)
    for item in inputs:
        answer = send(item)
        if answer.seconds >= MAX_SECONDS:
            again = send(item)
            tally.resent += 1
            answer = again if again.status >= 500 else replace(answer, seconds=min(answer.seconds, again.seconds))
        tally.record(answer, item)
    tally.done(minimum)
    return tally


# ---- calling the local cloud --------------------------------------------------------------------------------------
class WsgiWire:
    """A WSGI app called directly with a minimal environ, as werkzeug's server builds it for a loopback client."""

    def __init__(self, app: Callable, port: int, host: str = config.HOST):
        self.app, self.host, self.port = app, host, port

    def send(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
        path_only, _, query = path.partition("?")
        environ = {
            # as werkzeug's server: PATH_INFO decoded (WSGI's latin-1 dance), the raw target in RAW_URI/REQUEST_URI
            "REQUEST_METHOD": method, "SCRIPT_NAME": "", "QUERY_STRING": query, "RAW_URI": path, "REQUEST_URI": path,
            "PATH_INFO": unquote(path_only).encode("utf-8", "surrogateescape").decode("latin-1"),
            "SERVER_NAME": self.host, "SERVER_PORT": str(self.port), "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000", "HTTP_HOST": f"{self.host}:{self.port}",
            "CONTENT_LENGTH": str(len(body)), "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body), "wsgi.errors": io.StringIO(), "wsgi.multithread": True,
            "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        for key, value in (headers or {}).items():
            name = key.upper().replace("-", "_")
            if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[name] = value
            else:
                environ["HTTP_" + name] = value
        captured: dict[str, Any] = {}

        def start_response(status, response_headers, exc_info=None):
            captured["status"], captured["headers"] = status, response_headers
            return lambda data: None

        started = time.perf_counter()
        chunks = self.app(environ, start_response)
        try:
            data = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        seconds = time.perf_counter() - started
        return Answer(int(captured["status"].split()[0]), {k.lower(): v for k, v in captured["headers"]}, data,
                      seconds)


class HttpWire:
    """Requests over a real socket to a port of the local cloud (for what only HTTP carries: raw headers)."""

    def __init__(self, port: int, host: str = config.HOST):
        self.host, self.port = host, port

    def send(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
        import http.client

        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers={"Host": f"{self.host}:{self.port}", **(headers or {})})
            response = conn.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError) as error:
            # a dropped connection is as bad as a 500: the client gets no answer at all
            return Answer(599, {}, repr(error).encode(), time.perf_counter() - started)
        finally:
            conn.close()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data,
                      time.perf_counter() - started)


def aws_wire(cloud) -> WsgiWire:
    """The AWS port's app exactly as its server runs it (the guard, the middleware, the gateway, moto)."""
    return WsgiWire(cloud._aws_server.app, cloud.ports["aws"])


# ---- the generator -------------------------------------------------------------------------------------------------
HOSTILE_SCALARS = [
    None, "", " ", "\ud800", "\udfff", "\x00", "\u202e", "𝄞" * 40, "x" * 3000, "*", "%(a+)+$%", "' OR 1=1 --",
    "../../etc/passwd", "{}", "[", "null", "-1", "1e400", "NaN", "arn:aws:logs:us-east-1:123456789012:log-group:fuzz:*",
    -1, 0, 1, 2 ** 31, 2 ** 63, 2 ** 64, -(2 ** 63) - 1, 10 ** 30, 1.5, -0.0, 1e308, float("nan"), float("inf"),
    True, False,
]
HOSTILE_NESTED = [[], {}, [[[[]]]], {"a": {"b": {"c": {}}}}, [None, 1, "a"], {"": None}, [{"x": [1, 2]}]]
HOSTILE_BODIES = [
    b"", b"{", b"}", b"[]", b"null", b"0", b'"x"', b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b'{"a": NaN}', b'{"a": 1e999999}', b'{"a": "\\ud800"}', b'{"a": "\xed\xa0\x80"}', b"\xff\xfe\x00",
    b'{"a":1,"a":2}', b"{" + b" " * 100_000 + b"}", b'{"a": 123456789012345678901234567890}',
]
ALPHABET = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" "-_./:*?@#$%&()[]{}<>|\\'\"`~!^+=,; \t\n"
            "éß中𝄞\u202e\u0000\u00a0\ufeff")


class Inputs:
    """Seeded hostile inputs. ``known`` names resources the local cloud holds, so generated requests reach the
    handlers and not only the validation."""

    def __init__(self, seed: str, known: list[str] | None = None):
        self.r = random.Random(zlib.crc32(seed.encode()))
        self.known = known or ["fuzz"]

    # scalars ---------------------------------------------------------------------------------------------------
    def text(self, low: int = 0, high: int = 24) -> str:
        r = self.r
        n = r.randint(low, max(low, high))
        out = "".join(r.choices(ALPHABET, k=min(n, 64)))
        if n > 64:  # long text: a random 64-character piece repeated (as hostile to a parser, ~100x cheaper to make)
            out = (out * (n // 64 + 1))[:n]
        if r.random() < 0.02:
            out += "\ud800"
        return out

    def hostile(self) -> Any:
        return self.r.choice(HOSTILE_SCALARS + HOSTILE_NESTED)

    def json_value(self, depth: int = 0) -> Any:
        r = self.r
        kind = r.randrange(8 if depth < 3 else 6)
        if kind == 0:
            return None
        if kind == 1:
            return r.choice([True, False])
        if kind == 2:
            return r.choice([r.randint(-10, 10), r.randint(-(2 ** 70), 2 ** 70)])
        if kind == 3:
            return r.choice([r.uniform(-1e6, 1e6), float("nan"), float("inf"), 1e308])
        if kind in (4, 5):
            return self.text()
        if kind == 6:
            return [self.json_value(depth + 1) for _ in range(r.randint(0, 3))]
        return {self.text(0, 8): self.json_value(depth + 1) for _ in range(r.randint(0, 3))}

    def raw_body(self, valid: bytes | None = None) -> bytes:
        """Bytes no careful client sends: the hostile set, random bytes, random JSON, a valid body cut or flipped."""
        r = self.r
        kind = r.randrange(5 if valid else 3)
        if kind == 0:
            return r.choice(HOSTILE_BODIES)
        if kind == 1:
            return r.randbytes(r.randint(0, 300))
        if kind == 2:
            return encode_json(self.json_value())
        if kind == 3:
            return valid[: r.randrange(len(valid) + 1)]
        flipped = bytearray(valid)
        for _ in range(r.randint(1, 4)):
            if flipped:
                flipped[r.randrange(len(flipped))] = r.randrange(256)
        return bytes(flipped)

    def tokens(self, vocabulary: list[str], high: int = 14) -> str:
        """A query language's own tokens in random order (mostly malformed, some valid), sometimes any text."""
        r = self.r
        kind = r.randrange(10)
        if kind == 9:
            return self.text(0, 60)
        words = [r.choice(vocabulary) for _ in range(r.randint(1, high))]
        return ("" if kind == 8 else " ").join(words)

    # botocore shapes -------------------------------------------------------------------------------------------
    def value(self, shape, depth: int = 0) -> Any:
        r = self.r
        if r.random() < 0.08:
            return self.hostile()
        kind = shape.type_name
        meta = shape.metadata
        if kind == "structure":
            return self.structure(shape, depth + 1)
        if kind == "list":
            return [self.value(shape.member, depth + 1) for _ in range(r.randint(0, 3 if depth < 5 else 0))]
        if kind == "map":
            return {self.string(shape.key): self.value(shape.value, depth + 1)
                    for _ in range(r.randint(0, 2 if depth < 5 else 0))}
        if kind == "string":
            return self.string(shape)
        if kind in ("integer", "long"):
            low, high = meta.get("min"), meta.get("max")
            low = int(low) if low is not None else -(2 ** 40)
            high = int(high) if high is not None else 2 ** 40
            return r.choice([r.randint(low, high), r.randint(low, high), low, high, low - 1, high + 1])
        if kind in ("double", "float"):
            return r.choice([r.uniform(-1e3, 1e3), r.uniform(0, 1), 0.0, float("nan"), float("-inf")])
        if kind == "boolean":
            return r.choice([True, False])
        if kind == "timestamp":
            return r.choice([int(time.time()) - r.randint(0, 86400), r.uniform(0, 2e9), 2 ** 40,
                             "2026-12-02T00:00:00Z", "yesterday"])
        if kind == "blob":
            return base64.b64encode(r.randbytes(r.randint(0, 40))).decode()
        return self.hostile()

    def string(self, shape) -> str:
        r = self.r
        if shape.enum and r.random() < 0.8:
            return r.choice(list(shape.enum))
        low, high = int(shape.metadata.get("min", 0)), int(shape.metadata.get("max", 64))
        pick = r.randrange(10)
        if pick < 4:
            return r.choice(self.known)
        if pick == 9:
            return self.text(high + 1, high + 1) if high < 5000 else self.text(0, 3)
        return self.text(low, min(high, 64))

    def structure(self, shape, depth: int = 0) -> dict:
        """Its required members (usually all) and a few optional ones."""
        if shape is None or depth > 5:
            return {}
        r = self.r
        members = shape.members
        out = {name: self.value(members[name], depth) for name in shape.required_members
               if name in members and r.random() < 0.95}
        optional = [name for name in members if name not in out]
        for name in r.sample(optional, min(len(optional), r.choice([0, 1, 2, 3, 5]))):
            out[name] = self.value(members[name], depth)
        return out


def encode_json(value: Any) -> bytes:
    """json.dumps as a careless client would: NaN and Infinity as bare words, lone surrogates as escapes."""
    return json.dumps(value, default=str).encode()


# ---- AWS requests ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def service_model(service: str):
    return botocore.session.get_session().get_service_model(service)


CREDENTIALS = Credentials(config.LOCAL_AWS_ACCESS_KEY_ID, config.LOCAL_AWS_SECRET_ACCESS_KEY)


def signed(model, method: str, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
    """SigV4 headers with the local cloud's documented local key (its signature check verifies them)."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(CREDENTIALS, model.metadata.get("signingName") or model.metadata["endpointPrefix"], REGION).add_auth(
        request)
    return dict(request.headers)


def aws_request(model, operation: str, params: Any, raw: bytes | None = None) -> tuple[str, str, bytes, dict]:
    """(method, path, body, headers) of one call as the model's JSON or REST-JSON protocol sends it (CloudWatch in
    JSON 1.0, the protocol the local cloud intercepts); hostile values go out as they are, in the URI, the query
    string, the headers and the body."""
    if model.metadata["protocol"] != "rest-json":
        version = model.metadata.get("jsonVersion", "1.0")
        headers = {"X-Amz-Target": f"{model.metadata['targetPrefix']}.{operation}",
                   "Content-Type": f"application/x-amz-json-{version}"}
        return "POST", "/", raw if raw is not None else encode_json(params), headers
    op = model.operation_model(operation)
    uri = op.http["requestUri"]
    query: list[str] = []
    headers = {"Content-Type": "application/json"}
    body_params: dict = {}
    members = op.input_shape.members if op.input_shape is not None else {}
    for name, value in (params if isinstance(params, dict) else {}).items():
        member = members.get(name)
        where = member.serialization.get("location") if member is not None else None
        wire_name = member.serialization.get("name", name) if member is not None else name
        if where == "uri":
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            uri = uri.replace("{%s}" % wire_name, quote(text, safe="", errors="replace")).replace(
                "{%s+}" % wire_name, quote(text, safe="/", errors="replace"))
        elif where == "querystring":
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            query.append(f"{quote(wire_name)}={quote(text, safe='', errors='replace')}")
        elif where == "header":
            text = str(value)
            if text.isascii() and text.isprintable() and len(text) < 1000:
                headers[wire_name] = text
        else:
            body_params[wire_name] = value      # the body's JSON key is the member's locationName (detectorId)
    uri = re.sub(r"\{[^}]+\}", "fuzz", uri)     # path parameters left out: a literal, as an empty variable sends
    path, _, static_query = uri.partition("?")
    if static_query:
        query.insert(0, static_query)
    if query:
        path += "?" + "&".join(query)
    if raw is not None:
        body = raw
    else:
        body = encode_json(body_params) if body_params or op.http["method"] in ("POST", "PUT", "PATCH") else b""
    return op.http["method"], path, body, headers


def aws_calls(inputs: Inputs, service: str, answered: list[str] | None = None, n: int = EXAMPLES):
    """``n`` calls (operation, params, raw body or None): for the operations the local cloud answers mostly, any
    operation of the model sometimes, raw bytes sometimes."""
    model = service_model(service)
    every = sorted(model.operation_names)
    ours = sorted(answered or every)
    r = inputs.r
    for _ in range(n):
        pick = r.randrange(10)
        operation = r.choice(every if pick == 0 else ours)
        params = inputs.structure(model.operation_model(operation).input_shape)
        if pick >= 8:
            yield operation, None, inputs.raw_body(encode_json(params))
        else:
            yield operation, params, None


def send_aws(wire, service: str, call: tuple) -> Answer:
    operation, params, raw = call
    model = service_model(service)
    method, path, body, headers = aws_request(model, operation, params, raw)
    headers = signed(model, method, f"http://{wire.host}:{wire.port}{path}", body, headers)
    return wire.send(method, path, body, headers)


# ---- the AWS families' shared set-up (test_fuzz_aws.py, test_fuzz_security.py) -------------------------------------
def known_resources(module_cloud):
    """Resources the generated names point at, so inputs reach the handlers and not only the validation."""
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="fuzz")
    logs.create_log_stream(logGroupName="fuzz", logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="fuzz", logStreamName="s", logEvents=[
        {"timestamp": now - 1000 * (3 - i), "message": m} for i, m in enumerate(
            ['{"level": "error", "user": "andrewbrown", "ms": 12}', "GET /api/activities/home 200 3ms",
             "user@example.com said hi"])])
    boto3.client("xray").create_group(GroupName="fuzz", FilterExpression='service("backend-flask")')
    detector = boto3.client("guardduty").create_detector(Enable=True)["DetectorId"]
    boto3.client("securityhub").enable_security_hub()
    boto3.client("events").put_rule(Name="fuzz", EventPattern='{"source": ["aws.guardduty"]}')
    return ["fuzz", "s", "Default", detector, "default", "cruddur", "backend-flask",
            f"arn:aws:logs:{config.REGION}:{config.ACCOUNT_ID}:log-group:fuzz",
            f"arn:aws:xray:{config.REGION}:{config.ACCOUNT_ID}:group/fuzz",
            f"arn:aws:events:{config.REGION}:{config.ACCOUNT_ID}:rule/fuzz", "1-5f84c7a7-0123456789abcdef01234567"]


def fuzz_service(cloud, known: list[str], service: str, answered: list[str] | None = None) -> None:
    wire = aws_wire(cloud)
    inputs = Inputs(service, known)
    fuzz(service, aws_calls(inputs, service, answered), lambda call: send_aws(wire, service, call))


# ---- the query languages' shared set-up (test_fuzz_queries.py, test_fuzz_filters.py) ------------------------------
NOW = int(time.time())


def query_resources(module_cloud):
    """A log group with JSON, space-delimited and plain events; a few traces of two services."""
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="fuzz")
    logs.create_log_stream(logGroupName="fuzz", logStreamName="s")
    messages = ['{"level": "error", "user": "andrewbrown", "ms": 12, "tags": ["a", "b"], "req": {"path": "/x"}}',
                '127.0.0.1 - - [02/Dec/2026:00:00:00 +0000] "GET /api/activities/home HTTP/1.1" 200 512',
                "ERROR something failed user=andrewbrown latency=120ms", '{"level": "info", "ms": 3.5}',
                "user@example.com said hi", '{"level": null, "ms": "slow"}']
    logs.put_log_events(logGroupName="fuzz", logStreamName="s", logEvents=[
        {"timestamp": (NOW - 60 + i) * 1000, "message": m} for i, m in enumerate(messages)])
    from xray_helpers import Spec, documents

    xray = boto3.client("xray")
    specs = [Spec(response_time=0.2), Spec(status=500, annotations={"user_handle": "andrewbrown"}),
             Spec(downstream="notifications", response_time=1.5)]
    xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for i, spec in enumerate(specs)
                                                   for d in documents(spec, NOW - 120 + i)])
    return module_cloud


def mutate(inputs: Inputs, text: str, vocabulary: list[str]) -> str:
    """Sometimes a character dropped, a token inserted, the text cut: near-valid input, where parsers break."""
    r = inputs.r
    pick = r.randrange(10)
    if pick == 0 and text:
        i = r.randrange(len(text))
        return text[:i] + text[i + 1:]
    if pick == 1:
        i = r.randrange(len(text) + 1)
        return text[:i] + " " + r.choice(vocabulary) + " " + text[i:]
    if pick == 2:
        return text[: r.randrange(len(text) + 1)]
    return text
