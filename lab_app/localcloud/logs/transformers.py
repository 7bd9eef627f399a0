"""Log transformers: PutTransformer / GetTransformer / DeleteTransformer / TestTransformer, applied at ingest.

A transformer is a list of processors run one after the other on each event ("Create and manage log transformers"
in the CloudWatch Logs guide). The guide's rules, checked by PutTransformer and TestTransformer:

* at most 20 processors; "the first processor in a transformer must be a parser"; at least one and at most five
  parser-type processors; only one ``grok``, one ``addKeys`` and one ``copyValue``;
* transformers only for log groups in the Standard log class.

Processors implemented (their reference semantics): the parsers ``parseJSON`` (``source`` default ``@message``,
the object under ``destination`` or at the root), ``parseKeyValue`` (``fieldDelimiter`` ``&``,
``keyValueDelimiter`` ``=``, ``keyPrefix``, ``nonMatchValue`` for a token without the delimiter, else it is
dropped), ``csv`` (``delimiter`` ``,``, ``quoteCharacter`` ``"``, ``columns`` or ``column_1``, ``column_2``...)
and ``grok`` (``%{PATTERN:field}``, dotted field names nest, over the common patterns in :data:`GROK_PATTERNS`,
written for RE2; another pattern name is refused at PutTransformer);
the mutators ``addKeys``, ``deleteKeys``, ``renameKeys``, ``copyValue`` (also from the metadata keys
``@logGroupName``, ``@logGroupStream``, ``@accountId``, ``@regionName``), ``moveKeys``, ``lowerCaseString``,
``upperCaseString``, ``trimString``, ``splitString`` (a string becomes the list of its parts),
``substituteString`` (every match of the ``from`` regular expression, run on RE2, replaced by ``to``; ``$1``
refers to a group) and ``typeConverter`` (``integer``, ``double``, ``boolean``, ``string``; a value that does not
convert stays as it was). Keys are dot paths (``http.status``). ``overwriteIfExists`` defaults to
false. Any other processor (grok, csv, the vended-log parsers, dateTimeConverter, ...) is refused with
``InvalidParameterException`` naming it: the local cloud does not claim what it does not run.

At ingest (PutLogEvents and deliveries from other stand-ins) a group's transformer rewrites each event into the
JSON of its transformed fields, stored in place of the original, so Insights, metric filters and FilterLogEvents
read the transformed version. An event whose first parser fails (``parseJSON`` of text that is not JSON) is stored
unchanged.
"""
from __future__ import annotations

import copy
import json
import re
from typing import Any

from lab_app import config
from lab_app.localcloud.logs import exceptions as exc
from lab_app.localcloud.logs.fields import group_arn
from lab_app.localcloud.logs.re2 import compile as re2_compile
from lab_app.localcloud.logs.re2 import re2_error

MAX_PROCESSORS = 20
MAX_PARSERS = 5
PARSERS = {"parseJSON", "parseKeyValue", "csv", "grok", "parseCloudfront", "parseRoute53", "parseVPC", "parseWAF",
           "parsePostgres", "parseToOCSF"}
IMPLEMENTED = {"parseJSON", "parseKeyValue", "csv", "grok", "addKeys", "deleteKeys", "renameKeys", "copyValue", "moveKeys",
               "lowerCaseString", "upperCaseString", "trimString", "splitString", "substituteString", "typeConverter"}
ONLY_ONE = ("grok", "addKeys", "copyValue")
MESSAGE = "@message"
# grok's common patterns (the Logstash names), as RE2 expressions; %{NAME} inside one refers to another
GROK_PATTERNS = {
    "WORD": r"\b\w+\b", "NOTSPACE": r"\S+", "SPACE": r"\s*", "DATA": r".*?", "GREEDYDATA": r".*",
    "INT": r"[+-]?\d+", "POSINT": r"\b[1-9]\d*\b", "NONNEGINT": r"\b\d+\b",
    "NUMBER": r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", "BASE10NUM": r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)",
    "IPV4": r"(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)",
    "IPV6": r"[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+", "IP": r"(?:%{IPV6}|%{IPV4})",
    "HOSTNAME": r"\b[0-9A-Za-z][0-9A-Za-z-]{0,62}(?:\.[0-9A-Za-z][0-9A-Za-z-]{0,62})*\.?\b",
    "IPORHOST": r"(?:%{IP}|%{HOSTNAME})", "USERNAME": r"[a-zA-Z0-9._-]+", "USER": r"%{USERNAME}",
    "EMAILADDRESS": r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]+@%{HOSTNAME}",
    "UUID": r"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}",
    "LOGLEVEL": r"(?i:alert|trace|debug|notice|info|warn(?:ing)?|err(?:or)?|crit(?:ical)?|fatal|severe|emerg(?:ency)?)",
    "QUOTEDSTRING": r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'", "URIPATH": r"(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\-]*)+",
    "YEAR": r"\d\d(?:\d\d)?", "MONTHNUM": r"0?[1-9]|1[0-2]", "MONTHDAY": r"(?:0[1-9]|[12]\d|3[01]|[1-9])",
    "HOUR": r"2[0123]|[01]?\d", "MINUTE": r"[0-5]\d", "SECOND": r"(?:[0-5]?\d|60)(?:[:.,]\d+)?",
    "ISO8601_TIMEZONE": r"(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))",
    "TIMESTAMP_ISO8601": r"%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?",
    "MONTH": r"\b(?:[Jj]an(?:uary)?|[Ff]eb(?:ruary)?|[Mm]ar(?:ch)?|[Aa]pr(?:il)?|[Mm]ay|[Jj]une?|[Jj]uly?|"
             r"[Aa]ug(?:ust)?|[Ss]ep(?:tember)?|[Oo]ct(?:ober)?|[Nn]ov(?:ember)?|[Dd]ec(?:ember)?)\b",
    "HTTPDATE": r"%{MONTHDAY}/%{MONTH}/%{YEAR}:%{HOUR}:%{MINUTE}:%{SECOND} %{INT}",
}
_GROK_REF = re.compile(r"%\{(\w+)(?::([\w.@\-]+))?\}")
DDL = """CREATE TABLE IF NOT EXISTS logs_transformers (
    region VARCHAR, grp VARCHAR, config VARCHAR, created BIGINT, modified BIGINT, PRIMARY KEY (region, grp))"""


class ParseFailed(Exception):
    """The first parser could not read the event: it is stored as it came."""


def validate(processors: Any) -> list[dict]:
    if not isinstance(processors, list) or not processors:
        raise exc.InvalidParameterException("transformerConfig must list at least one processor.")
    if len(processors) > MAX_PROCESSORS:
        raise exc.InvalidParameterException(f"A transformer can have at most {MAX_PROCESSORS} processors.")
    kinds = []
    for i, processor in enumerate(processors, start=1):
        set_members = [k for k, v in (processor or {}).items() if v is not None] if isinstance(processor, dict) else []
        if len(set_members) != 1:
            raise exc.InvalidParameterException(f"Processor {i} must specify exactly one processor type.")
        kinds.append(set_members[0])
    if kinds[0] not in PARSERS:
        raise exc.InvalidParameterException(
            f"The first processor in a transformer must be a parser, not {kinds[0]}.")
    if sum(k in PARSERS for k in kinds) > MAX_PARSERS:
        raise exc.InvalidParameterException(f"A transformer can include at most {MAX_PARSERS} parser-type processors.")
    for kind in ONLY_ONE:
        if kinds.count(kind) > 1:
            raise exc.InvalidParameterException(f"A transformer can include only one {kind} processor.")
    first = processors[0].get(kinds[0]) or {}
    if kinds[0] == "parseJSON" and first.get("source", MESSAGE) != MESSAGE:
        raise exc.InvalidParameterException(
            "When parseJSON is the first processor it must parse the entire log event: its source is @message.")
    for processor in processors:
        if isinstance(processor.get("grok"), dict) and isinstance(processor["grok"].get("match"), str):
            grok_regex(processor["grok"]["match"])
        for entry in (processor.get("substituteString") or {}).get("entries") or []:
            if isinstance(entry, dict) and isinstance(entry.get("from"), str) and re2_error(entry["from"]):
                raise exc.InvalidParameterException(
                    f"substituteString: {entry['from']!r} is not a regular expression RE2 accepts: "
                    f"{re2_error(entry['from'])}")
    for kind in kinds:
        if kind not in IMPLEMENTED:
            raise exc.InvalidParameterException(
                f"The {kind} processor is not implemented by the local CloudWatch Logs; it runs "
                f"{', '.join(sorted(IMPLEMENTED))}.")
    return processors


# ---- dot paths -------------------------------------------------------------------------------------------
def _get(state: dict, path: str) -> tuple[bool, Any]:
    if path in state:
        return True, state[path]
    node: Any = state
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _set(state: dict, path: str, value: Any, overwrite: bool = True) -> None:
    parts = path.split(".")
    node = state
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            if part in node and not overwrite:
                return
            node[part] = {}
        node = node[part]
    if parts[-1] in node and not overwrite:
        return
    node[parts[-1]] = value


def _delete(state: dict, path: str) -> None:
    if path in state:
        del state[path]
        return
    parts = path.split(".")
    node: Any = state
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            return
        node = node[part]
    if isinstance(node, dict):
        node.pop(parts[-1], None)


# ---- processors ------------------------------------------------------------------------------------------
def _parse_json(state: dict, p: dict, first: bool) -> None:
    found, text = _get(state, p.get("source") or MESSAGE)
    try:
        parsed = json.loads(text) if found and isinstance(text, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        if first:
            raise ParseFailed
        return
    if p.get("source", MESSAGE) == MESSAGE:
        state.pop(MESSAGE, None)
    if p.get("destination"):
        _set(state, p["destination"], parsed)
    else:
        state.update(parsed)


def _parse_key_value(state: dict, p: dict, first: bool) -> None:
    found, text = _get(state, p.get("source") or MESSAGE)
    if not found or not isinstance(text, str):
        if first:
            raise ParseFailed
        return
    field_sep, kv_sep = p.get("fieldDelimiter") or "&", p.get("keyValueDelimiter") or "="
    prefix, overwrite = p.get("keyPrefix") or "", bool(p.get("overwriteIfExists"))
    pairs: dict = {}
    for token in text.split(field_sep):
        if not token:
            continue
        key, sep, value = token.partition(kv_sep)
        if not sep:
            if p.get("nonMatchValue") is None:
                continue
            value = p["nonMatchValue"]
        pairs[prefix + key] = value
    if p.get("source", MESSAGE) == MESSAGE:
        state.pop(MESSAGE, None)
    target = state
    if p.get("destination"):
        found, existing = _get(state, p["destination"])
        if not (found and isinstance(existing, dict)):
            _set(state, p["destination"], {})
        target = _get(state, p["destination"])[1]
    for key, value in pairs.items():
        if key not in target or overwrite:
            target[key] = value


def grok_regex(match: str) -> tuple[str, list[str]]:
    """The RE2 expression of a grok match (groups g0, g1, ... for the named fields) and the field names, or
    InvalidParameterException for a pattern name it does not know."""
    fields: list[str] = []

    def expand(text: str, depth: int) -> str:
        def one(m: re.Match) -> str:
            name, field = m.group(1), m.group(2)
            if name not in GROK_PATTERNS:
                raise exc.InvalidParameterException(
                    f"grok: the pattern %{{{name}}} is not one the local CloudWatch Logs knows; it knows "
                    f"{', '.join(sorted(GROK_PATTERNS))}.")
            if depth > 8:
                raise exc.InvalidParameterException("grok: patterns nest too deeply.")
            body = expand(GROK_PATTERNS[name], depth + 1)
            if field and depth == 0:
                fields.append(field)
                return f"(?P<g{len(fields) - 1}>{body})"
            return f"(?:{body})"
        return _GROK_REF.sub(one, text)

    regex = expand(match, 0)
    problem = re2_error(regex)
    if problem:
        raise exc.InvalidParameterException(f"grok: {match!r} is not a pattern RE2 accepts: {problem}")
    return regex, fields


def _grok(state: dict, p: dict, first: bool) -> None:
    found, text = _get(state, p.get("source") or MESSAGE)
    regex, fields = grok_regex(p["match"])
    m = re2_compile(regex).search(text) if found and isinstance(text, str) else None
    if m is None:
        if first:
            raise ParseFailed
        return
    if p.get("source", MESSAGE) == MESSAGE:
        state.pop(MESSAGE, None)
    for i, field in enumerate(fields):
        if m.group(f"g{i}") is not None:
            _set(state, field, m.group(f"g{i}"))


def _csv(state: dict, p: dict, first: bool) -> None:
    import csv

    found, text = _get(state, p.get("source") or MESSAGE)
    if not found or not isinstance(text, str):
        if first:
            raise ParseFailed
        return
    delimiter = p.get("delimiter") or ","
    delimiter = "\t" if delimiter == "\\t" else delimiter
    quote = p.get("quoteCharacter") or '"'
    if len(delimiter) == 1:
        values = next(csv.reader([text], delimiter=delimiter, quotechar=quote), [])
    else:
        values = text.split(delimiter)
    columns = list(p.get("columns") or [])
    columns += [f"column_{i}" for i in range(len(columns) + 1, len(values) + 1)]
    if p.get("source", MESSAGE) == MESSAGE:
        state.pop(MESSAGE, None)
    parsed = dict(zip(columns, values))
    if p.get("destination"):
        _set(state, p["destination"], parsed)
    else:
        state.update(parsed)


def _convert(value: Any, kind: str) -> Any:
    try:
        if kind == "integer":
            return int(value) if not isinstance(value, float) else int(value)
        if kind == "double":
            return float(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            return {"true": True, "false": False}[text]
        if kind == "string":
            return json.dumps(value) if isinstance(value, bool) else str(value)
    except (ValueError, TypeError, KeyError, OverflowError):
        return value
    return value


def _entries(state: dict, p: dict, action) -> None:
    for entry in p["entries"]:
        action(state, entry, bool(entry.get("overwriteIfExists")))


def _add(state, e, overwrite):
    _set(state, e["key"], e["value"], overwrite)


def _rename(state, e, overwrite):
    found, value = _get(state, e["key"])
    if found and (overwrite or not _get(state, e["renameTo"])[0]):
        _delete(state, e["key"])
        _set(state, e["renameTo"], value)


def _move(state, e, overwrite):
    found, value = _get(state, e["source"])
    if found and (overwrite or not _get(state, e["target"])[0]):
        _delete(state, e["source"])
        _set(state, e["target"], value)


def _copy(state, e, overwrite, metadata=None):
    source = e["source"]
    if metadata is not None and source in metadata:
        found, value = True, metadata[source]
    else:
        found, value = _get(state, source)
    if found:
        _set(state, e["target"], copy.deepcopy(value), overwrite)


def _strings(state: dict, keys: list[str], fn) -> None:
    for key in keys:
        found, value = _get(state, key)
        if found and isinstance(value, str):
            _set(state, key, fn(value))


def transform(processors: list[dict], message: str, metadata: dict | None = None) -> str:
    """One event through the processors: the transformed event's JSON, or the message when the first parser fails."""
    state: dict = {MESSAGE: message}
    try:
        for i, processor in enumerate(processors):
            (kind, p), = [(k, v) for k, v in processor.items() if v is not None]
            if kind == "parseJSON":
                _parse_json(state, p, i == 0)
            elif kind == "parseKeyValue":
                _parse_key_value(state, p, i == 0)
            elif kind == "csv":
                _csv(state, p, i == 0)
            elif kind == "grok":
                _grok(state, p, i == 0)
            elif kind == "splitString":
                for e in p["entries"]:
                    found, value = _get(state, e["source"])
                    if found and isinstance(value, str):
                        _set(state, e["source"], value.split(e["delimiter"]))
            elif kind == "substituteString":
                for e in p["entries"]:
                    found, value = _get(state, e["source"])
                    if found and isinstance(value, str):
                        replacement = re.sub(r"\$(\d+)", r"\\\1", e["to"].replace("\\", "\\\\"))
                        _set(state, e["source"], re2_compile(e["from"]).sub(replacement, value))
            elif kind == "typeConverter":
                for e in p["entries"]:
                    found, value = _get(state, e["key"])
                    if found:
                        _set(state, e["key"], _convert(value, e["type"]))
            elif kind == "addKeys":
                _entries(state, p, _add)
            elif kind == "deleteKeys":
                for key in p["withKeys"]:
                    _delete(state, key)
            elif kind == "renameKeys":
                _entries(state, p, _rename)
            elif kind == "moveKeys":
                _entries(state, p, _move)
            elif kind == "copyValue":
                _entries(state, p, lambda s, e, o: _copy(s, e, o, metadata))
            elif kind == "lowerCaseString":
                _strings(state, p["withKeys"], str.lower)
            elif kind == "upperCaseString":
                _strings(state, p["withKeys"], str.upper)
            elif kind == "trimString":
                _strings(state, p["withKeys"], str.strip)
        return json.dumps(state, separators=(",", ":"), ensure_ascii=False)
    except (ParseFailed, RecursionError):   # RecursionError: JSON nested deeper than Python walks; kept as it came
        return message


class Transformers:
    def __init__(self, store, backend):
        self.store = store
        self.backend = backend

    def setup(self) -> None:
        self.store.ensure_table("logs_transformers", DDL)
        self.backend.group_tables.append("logs_transformers")

    def _group(self, region: str, identifier: str) -> str:
        group = self.backend._validate_identifier(identifier)
        self.backend._require_group(region, group)
        return group

    def put(self, region: str, identifier: str, processors: Any) -> None:
        group = self._group(region, identifier)
        log_class = self.backend._require_group(region, group)[4]
        if log_class != "STANDARD":
            raise exc.InvalidParameterException(
                f"Transformers can be created only for log groups in the Standard log class; {group} is {log_class}.")
        validate(processors)
        now = self.backend.now_ms()
        with self.store.transaction() as conn:
            rows = conn.execute("SELECT created FROM logs_transformers WHERE region = ? AND grp = ?",
                                [region, group]).fetchall()
            created = rows[0][0] if rows else now
            conn.execute("DELETE FROM logs_transformers WHERE region = ? AND grp = ?", [region, group])
            conn.execute("INSERT INTO logs_transformers VALUES (?, ?, ?, ?, ?)",
                         [region, group, json.dumps(processors), created, now])

    def get(self, region: str, identifier: str) -> dict:
        group = self._group(region, identifier)
        rows = self.store.execute("SELECT config, created, modified FROM logs_transformers WHERE region = ? AND grp = ?",
                                  [region, group])
        if not rows:
            raise exc.ResourceNotFoundException(f"The log group {group} does not have a transformer.")
        config_text, created, modified = rows[0]
        return {"logGroupIdentifier": group_arn(region, group), "creationTime": int(created),
                "lastModifiedTime": int(modified), "transformerConfig": json.loads(config_text)}

    def delete(self, region: str, identifier: str) -> None:
        group = self._group(region, identifier)
        with self.store.lock:
            if not self.store.execute("SELECT 1 FROM logs_transformers WHERE region = ? AND grp = ?", [region, group]):
                raise exc.ResourceNotFoundException(f"The log group {group} does not have a transformer.")
            self.store.execute("DELETE FROM logs_transformers WHERE region = ? AND grp = ?", [region, group])

    def test(self, processors: Any, messages: list[str]) -> dict:
        validate(processors)
        return {"transformedLogs": [
            {"eventNumber": i, "eventMessage": m, "transformedEventMessage": transform(processors, m)}
            for i, m in enumerate(messages, start=1)]}

    def apply(self, region: str, group: str, stream: str, messages: list[str]) -> list[str]:
        """At ingest: the group's transformer over each message (unchanged when the group has none)."""
        rows = self.store.execute("SELECT config FROM logs_transformers WHERE region = ? AND grp = ?", [region, group])
        if not rows:
            return messages
        processors = json.loads(rows[0][0])
        metadata = {"@logGroupName": group, "@logGroupStream": stream, "@accountId": config.ACCOUNT_ID,
                    "@regionName": region}
        return [transform(processors, m, metadata) for m in messages]
