"""Logs Insights AST -> one DuckDB SQL statement with bound parameters.

Each command becomes a CTE stage over the previous one. Every value from the query text (strings,
numbers, regexes, JSON paths) is a ``$pN`` parameter; column names are generated (``c_ts``, ``j0``,
``f3`` ...) and the mapping from Insights field names lives in Python, so no user text reaches SQL.

Fields discovered in JSON messages are extracted once per row (``json_extract_string`` with a list of
paths, so each message is parsed once) and are typed ``any``: compared as numbers when the other side is
a number, sorted numbers-after-text like AWS's natural sort.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from lab_app.localcloud.logs.exceptions import MalformedQueryException
from lab_app.localcloud.logs.insights import ast
from lab_app.localcloud.logs.insights.parser import AGGREGATES

EVENTS_TABLE = "logs_events"
DEFAULT_LIMIT = 10_000

# Insights' built-in fields and the base-stage columns holding them.
BUILTINS = {
    "@timestamp": ("c_ts", "ts"),
    "@message": ("c_msg", "str"),
    "@logStream": ("c_stream", "str"),
    "@log": ("c_log", "str"),
    "@ingestionTime": ("c_ingest", "ts"),
    "@ptr": ("c_id", "ptr"),
}
DEFAULT_DISPLAY = ["@timestamp", "@message", "@logStream", "@log"]


@dataclass
class Col:
    sql: str
    type: str  # num | str | any | bool | ts | ptr | null | json (JSON text: jsonParse, unnest)


@dataclass
class Scope:
    """Which events a query reads."""
    region: str
    account: str
    groups: list[str]
    start_ms: int
    end_ms: int


@dataclass
class CompiledQuery:
    sql: str
    params: dict
    columns: list[tuple[str, str]]        # (output field name, type); "@ptr" last for record queries
    count_sql: str | None                  # recordsMatched (None: same as scanned)
    scan_sql: str = ""
    scan_params: dict = field(default_factory=dict)
    aggregated: bool = False
    unmasks: bool = False                  # calls unmask(): the caller needs logs:Unmask


def _json_path(name: str) -> str:
    parts = []
    for segment in name.split("."):
        if segment.isdigit():
            parts.append(f"[{segment}]")
        else:
            parts.append('."' + segment.replace('"', '\\"') + '"')
    return "$" + "".join(parts)


def _num(sql: str, t: str) -> str:
    if t == "num":
        return sql
    if t == "json":
        return f"TRY_CAST(json_extract_string({sql}, '$') AS DOUBLE)"
    if t in ("ts", "bool", "ptr"):
        return f"CAST({sql} AS DOUBLE)"
    if t == "null":
        return "CAST(NULL AS DOUBLE)"
    return f"TRY_CAST({sql} AS DOUBLE)"


def _text(sql: str, t: str) -> str:
    if t in ("str", "any"):
        return sql
    if t == "json":     # a JSON string is its text; numbers, objects and lists their JSON
        return f"json_extract_string({sql}, '$')"
    if t == "num":
        return (f"(CASE WHEN {sql} = trunc({sql}) AND abs({sql}) < 1e15 THEN CAST(CAST({sql} AS BIGINT) AS VARCHAR)"
                f" ELSE CAST({sql} AS VARCHAR) END)")
    if t == "ts":
        return f"strftime(epoch_ms(CAST({sql} AS BIGINT)), '%Y-%m-%d %H:%M:%S.%g')"
    if t == "bool":
        return f"(CASE WHEN {sql} THEN 'true' WHEN NOT {sql} THEN 'false' END)"
    if t == "null":
        return "CAST(NULL AS VARCHAR)"
    return f"CAST({sql} AS VARCHAR)"


def _bool(sql: str, t: str) -> str:
    if t == "bool":
        return sql
    if t in ("num", "ts"):
        return f"({sql} <> 0)"
    if t == "null":
        return "FALSE"
    return f"({sql} IS NOT NULL AND {sql} <> '')"


class Compiler:
    def __init__(self, query: ast.Query, scope: Scope, limit: int | None = None):
        self.query = query
        self.scope = scope
        self.request_limit = limit
        self.params: dict = {}
        self.stages: list[tuple[str, str]] = []
        self.cols: dict[str, Col] = {}
        self.order: list[tuple[str, bool]] = []
        self.display: list[str] | None = None
        self.aggregated = False
        self.limit: int | None = None
        self.filtered = False
        self.matched_stage: str | None = None
        self.unmasks = False
        self.index_stage: str | None = None    # the stage after the last filterIndex: what the index lets a query read
        self._n = 0

    # ---- helpers --------------------------------------------------------------------------------
    def param(self, value) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def fresh(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    @property
    def current(self) -> str:
        return self.stages[-1][0]

    def stage(self, select_sql: str) -> str:
        name = f"s{len(self.stages)}"
        self.stages.append((name, select_sql))
        return name

    def error(self, message: str, node=None) -> MalformedQueryException:
        start = getattr(node, "start", 0) or 0
        end = getattr(node, "end", 0) or len(self.query.text)
        return MalformedQueryException(message, start, end)

    # ---- the JSON fields the query reads before defining them -------------------------------------
    def _json_fields(self) -> list[str]:
        defined: set[str] = set()
        wanted: list[str] = []

        def need(name: str):
            # a.b of a field the query defines (jsonParse(...) as a, unnest ... into a) is not a message field
            inside_defined = any(name.startswith(d + ".") for d in defined)
            if name not in defined and not inside_defined and not name.startswith("@") and name not in wanted:
                wanted.append(name)

        def walk(node):
            if isinstance(node, ast.Field):
                need(node.name)
            elif isinstance(node, ast.Call):
                for a in node.args:
                    walk(a)
            elif isinstance(node, tuple):
                for a in node:
                    walk(a)
            else:
                for attr in ("left", "right", "expr", "pattern", "items"):
                    if hasattr(node, attr):
                        walk(getattr(node, attr))

        for command in self.query.commands:
            if isinstance(command, ast.Stats):
                for item in (*command.by, *command.items):
                    walk(item.expr)
                break  # after stats only the stats output exists
            if isinstance(command, ast.Pattern):
                walk(command.expr)
                break  # after pattern only the patterns exist
            if isinstance(command, ast.Fields):
                for item in command.items:
                    walk(item.expr)
                for item in command.items:
                    if item.alias:
                        defined.add(item.alias)
            elif isinstance(command, (ast.Filter, ast.FilterIndex)):
                walk(command.expr)
            elif isinstance(command, ast.Sort):
                for expr, _ in command.keys:
                    walk(expr)
            elif isinstance(command, (ast.Display, ast.Dedup)):
                for name in command.names:
                    need(name)
            elif isinstance(command, ast.Parse):
                need(command.source)
                defined.update(command.names)
            elif isinstance(command, ast.Unnest):
                need(command.source)
                defined.add(command.alias)
        return wanted

    # ---- compile ----------------------------------------------------------------------------------
    def compile(self) -> CompiledQuery:
        scope = self.scope
        # no group left (filterIndex skipped them all): the query reads nothing
        groups = f"grp IN ({', '.join(self.param(g) for g in scope.groups)})" if scope.groups else "FALSE"
        where = (f"region = {self.param(scope.region)} AND {groups} "
                 f"AND ts >= {self.param(scope.start_ms)} AND ts <= {self.param(scope.end_ms)}")
        scan_params = dict(self.params)
        scan_sql = f"SELECT count(*), coalesce(sum(strlen(message)), 0) FROM {EVENTS_TABLE} WHERE {where}"
        json_fields = self._json_fields()
        select = ["ts AS c_ts", "ingest AS c_ingest", "stream AS c_stream",
                  f"{self.param(scope.account + ':')} || grp AS c_log", "message AS c_msg", "id AS c_id",
                  "unmasked AS c_unmasked"]
        if json_fields:
            paths = self.param([_json_path(n) for n in json_fields])
            select.append(f"json_extract_string(CASE WHEN is_json THEN message END, {paths}) AS c_json")
        self.stage(f"SELECT {', '.join(select)} FROM {EVENTS_TABLE} WHERE {where}")
        for name, (sql, t) in BUILTINS.items():
            self.cols[name] = Col(sql, t)
        if json_fields:
            extra = []
            for i, name in enumerate(json_fields):
                col = f"j{i}"
                extra.append(f"c_json[{i + 1}] AS {col}")
                self.cols[name] = Col(col, "any")
            self.stage(f"SELECT * EXCLUDE (c_json), {', '.join(extra)} FROM {self.current}")

        for command in self.query.commands:
            getattr(self, "cmd_" + type(command).__name__.lower())(command)

        if self.matched_stage is None and self.filtered:
            self.matched_stage = self.current
        display = self.display or ([] if self.aggregated else list(DEFAULT_DISPLAY))
        out_cols: list[tuple[str, str]] = []
        select = []
        for i, name in enumerate(display):
            col = self.resolve(name)
            if col.type == "json":
                col = Col(_text(col.sql, "json"), "str")
            select.append(f"{col.sql} AS o{i}")
            out_cols.append((name, col.type))
        if not self.aggregated:
            select.append("c_id AS o_ptr")
            out_cols.append(("@ptr", "ptr"))
        if not self.order and not self.aggregated:
            self.order = [("c_ts", True), ("c_id", True)]
        # an explicit `limit` in the query wins; otherwise StartQuery's limit, otherwise 10,000
        limit = self.limit if self.limit is not None else (self.request_limit or DEFAULT_LIMIT)
        final = f"SELECT {', '.join(select)} FROM {self.current}{self._order_sql()} LIMIT {self.param(limit)}"
        ctes = ",\n".join(f"{name} AS ({sql})" for name, sql in self.stages)
        sql = f"WITH {ctes}\n{final}"
        if self.index_stage is not None:
            upto = self.stages[: [n for n, _ in self.stages].index(self.index_stage) + 1]
            scan_sql = ("WITH " + ",\n".join(f"{n} AS ({s})" for n, s in upto) +
                        f"\nSELECT count(*), coalesce(sum(strlen(c_msg)), 0) FROM {self.index_stage}")
            scan_params = used_params(scan_sql, self.params)
        count_sql = None
        if self.matched_stage is not None:
            upto = [s for s in self.stages[: [n for n, _ in self.stages].index(self.matched_stage) + 1]]
            count_sql = "WITH " + ",\n".join(f"{n} AS ({s})" for n, s in upto) + f"\nSELECT count(*) FROM {self.matched_stage}"
        # resolve() may make parameters a check then discards (display, a JSON path): bind only the ones used
        return CompiledQuery(sql, used_params(sql, self.params), out_cols, count_sql, scan_sql, scan_params,
                             self.aggregated, self.unmasks)

    def _order_sql(self) -> str:
        if not self.order:
            return ""
        return " ORDER BY " + ", ".join(f"{sql} {'DESC' if desc else 'ASC'} NULLS LAST" for sql, desc in self.order)

    def resolve(self, name: str, node=None) -> Col:
        col = self.cols.get(name)
        if col is not None:
            return col
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):    # js.items.0.sku inside a JSON value the query made
            base = self.cols.get(".".join(parts[:cut]))
            if base is not None and base.type == "json":
                path = self.param(_json_path(".".join(parts[cut:])))
                return Col(f"CAST(json_extract({base.sql}, {path}) AS VARCHAR)", "json")
        if self.aggregated:
            raise self.error(f"field '{name}' is not available after stats; the fields are: "
                             f"{', '.join(self.cols)}", node)
        return Col("NULL", "null")  # an @field this stand-in does not discover

    # ---- commands -----------------------------------------------------------------------------------
    def cmd_fields(self, command: ast.Fields):
        new = []
        names = []
        for item in command.items:
            if isinstance(item.expr, ast.Field) and item.alias is None:
                self.resolve(item.expr.name, item.expr)
                names.append(item.expr.name)
                continue
            sql, t = self.expr(item.expr)
            col = self.fresh("f")
            new.append((item.name, f"{sql} AS {col}", Col(col, t)))
            names.append(item.name)
        if new:
            self.stage(f"SELECT *, {', '.join(s for _, s, _ in new)} FROM {self.current}")
            for name, _, col in new:
                self.cols[name] = col
        self.display = list(self.display or [])
        for name in names:
            if name not in self.display:
                self.display.append(name)

    def cmd_display(self, command: ast.Display):
        for name in command.names:
            self.resolve(name)
        self.display = list(command.names)

    def cmd_filter(self, command: ast.Filter):
        sql, t = self.expr(command.expr)
        self.stage(f"SELECT * FROM {self.current} WHERE {_bool(sql, t)}")
        if not self.aggregated:  # recordsMatched counts log events, not the groups a later filter keeps
            self.filtered = True

    def cmd_filterindex(self, command: ast.FilterIndex):
        """Inside the log groups indexed on the field (the backend chose them), filterIndex keeps the events whose
        field has one of the values: a filter on that comparison. The index spares the query the other events, so
        ``recordsScanned`` counts only the events it lets through ("skips log events that have [the] field but
        where [the value] was not observed")."""
        self.cmd_filter(ast.Filter(command.expr))
        self.index_stage = self.current

    def cmd_pattern(self, command: ast.Pattern):
        """Cluster the events into patterns: the text with its variable tokens (UUIDs, timestamps, IP addresses,
        hex ids, any token holding a digit) replaced by ``<*>``, then one row per pattern with ``@pattern``,
        ``@patternId`` (md5 of the pattern), ``@sampleCount``, ``@ratio`` (its share of the events) and
        ``@severityLabel`` (the most severe log level word in its events, ``Unknown`` when none), most frequent
        first. Deterministic: the same events always give the same patterns."""
        if self.matched_stage is None and self.filtered:
            self.matched_stage = self.current
        sql, t = self.expr(command.expr)
        masked = _text(sql, t)
        for regex in PATTERN_TOKENS:
            masked = f"regexp_replace({masked}, {self.param(regex)}, {self.param(TOKEN)}, 'g')"
        masked = f"regexp_replace({masked}, {self.param(TOKEN_RUN)}, {self.param(TOKEN)}, 'g')"
        level = f"upper(regexp_extract({_text(sql, t)}, {self.param(SEVERITY_WORD)}, 1))"
        stage = self.stage(f"SELECT {masked} AS pt_text, {level} AS pt_level FROM {self.current} "
                           "WHERE pt_text IS NOT NULL")
        ranks = " ".join(f"WHEN {self.param(word)} THEN {rank}" for rank, (word, _) in enumerate(SEVERITY_LABELS))
        labels = " ".join(f"WHEN {rank} THEN {self.param(label)}" for rank, (_, label) in enumerate(SEVERITY_LABELS))
        self.stage(
            f"SELECT pt_text AS p_pattern, md5(pt_text) AS p_id, CAST(count(*) AS DOUBLE) AS p_count, "
            f"CAST(count(*) AS DOUBLE) / sum(count(*)) OVER () AS p_ratio, "
            f"coalesce(CASE min(CASE pt_level {ranks} END) {labels} END, {self.param('Unknown')}) AS p_severity "
            f"FROM {stage} GROUP BY pt_text")
        self.cols = {"@pattern": Col("p_pattern", "str"), "@patternId": Col("p_id", "str"),
                     "@sampleCount": Col("p_count", "num"), "@ratio": Col("p_ratio", "num"),
                     "@severityLabel": Col("p_severity", "str")}
        self.display = ["@pattern", "@patternId", "@sampleCount", "@ratio", "@severityLabel"]
        self.aggregated = True
        self.order = [("p_count", True), ("p_pattern", False)]
        self.limit = None

    def cmd_unnest(self, command: ast.Unnest):
        """One record per element of a list (from jsonParse); any other value is a list of one item, a missing
        value or an empty list gives no record (the unnest reference)."""
        src = self.resolve(command.source)
        col = self.fresh("u")
        if src.type == "json":
            items = (f"CASE WHEN {src.sql} IS NULL THEN CAST([] AS VARCHAR[]) "
                     f"WHEN json_type({src.sql}) = 'ARRAY' THEN CAST(json_extract({src.sql}, '$[*]') AS VARCHAR[]) "
                     f"ELSE [{src.sql}] END")
            kind = "json"
        else:
            items = f"CASE WHEN {src.sql} IS NULL THEN [] ELSE [{src.sql}] END"
            kind = src.type
        self.stage(f"SELECT *, unnest({items}) AS {col} FROM {self.current}")
        self.cols[command.alias] = Col(col, kind)

    def cmd_parse(self, command: ast.Parse):
        src = self.resolve(command.source)
        text = _text(src.sql, src.type)
        pattern = self.param(command.regex)
        parts = []
        new = {}
        for name, index in zip(command.names, command.group_index):
            col = self.fresh("r")
            parts.append(f"CASE WHEN regexp_matches({text}, {pattern}) "
                         f"THEN regexp_extract({text}, {pattern}, {int(index)}) END AS {col}")
            new[name] = Col(col, "any")
        self.stage(f"SELECT *, {', '.join(parts)} FROM {self.current}")
        self.cols.update(new)

    def cmd_stats(self, command: ast.Stats):
        if self.matched_stage is None and self.filtered:
            self.matched_stage = self.current
        select, keys, new_cols, display = [], [], {}, []
        for item in command.by:
            sql, t = self.expr(item.expr)
            col = self.fresh("k")
            select.append(f"{sql} AS {col}")
            keys.append((col, t))
            new_cols[item.name] = Col(col, t)
            display.append(item.name)
        for item in command.items:
            sql, t = self.expr(item.expr, agg=True)
            col = self.fresh("a")
            select.append(f"{sql} AS {col}")
            new_cols[item.name] = Col(col, t)
            display.append(item.name)
        group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(keys)))}" if keys else ""
        self.stage(f"SELECT {', '.join(select)} FROM {self.current}{group}")
        self.cols = new_cols
        self.display = display
        self.aggregated = True
        self.order = []
        for col, t in keys:
            self.order.extend(self._sort_terms(col, t, desc=False))
        self.limit = None

    def _sort_terms(self, sql: str, t: str, desc: bool) -> list[tuple[str, bool]]:
        if t == "any":
            # AWS natural sort: text values before numbers when ascending
            return [(f"(TRY_CAST({sql} AS DOUBLE) IS NOT NULL)", desc), (f"TRY_CAST({sql} AS DOUBLE)", desc),
                    (sql, desc)]
        return [(sql, desc)]

    def cmd_sort(self, command: ast.Sort):
        order = []
        for expr, desc in command.keys:
            sql, t = self.expr(expr)
            if sql == "NULL":       # a field no event has: every row ties on it (DuckDB refuses ORDER BY NULL)
                continue
            order.extend(self._sort_terms(sql, t, desc))
        self.order = order

    def cmd_limit(self, command: ast.Limit):
        if self.matched_stage is None and self.filtered:
            self.matched_stage = self.current
        self.stage(f"SELECT * FROM {self.current}{self._order_sql()} LIMIT {self.param(command.n)}")
        self.limit = command.n if self.limit is None else min(self.limit, command.n)

    def cmd_dedup(self, command: ast.Dedup):
        cols = [self.resolve(n) for n in command.names]
        keys = ", ".join(c.sql for c in cols)
        nulls = " OR ".join(f"{c.sql} IS NULL" for c in cols)
        order = self._order_sql() or (" ORDER BY c_ts DESC" if not self.aggregated else "")
        self.stage(f"SELECT * FROM {self.current} QUALIFY ({nulls}) OR "
                   f"row_number() OVER (PARTITION BY {keys}{order}) = 1")

    # ---- expressions ---------------------------------------------------------------------------------
    def expr(self, node, agg: bool = False, in_agg: bool = False) -> tuple[str, str]:
        e = lambda n: self.expr(n, agg, in_agg)  # noqa: E731
        if isinstance(node, ast.Field):
            col = self.resolve(node.name, node)
            return col.sql, col.type
        if isinstance(node, ast.Number):
            return self.param(node.value), "num"
        if isinstance(node, ast.String):
            return self.param(node.value), "str"
        if isinstance(node, ast.Regex):
            raise self.error("a regular expression can only follow 'like' or '=~'", node)
        if isinstance(node, ast.Duration):
            return self.param(float(node.ms)), "num"
        if isinstance(node, ast.Star):
            raise self.error("'*' is only allowed in count(*)")
        if isinstance(node, ast.Not):
            sql, t = e(node.expr)
            return f"(NOT {_bool(sql, t)})", "bool"
        if isinstance(node, ast.Neg):
            sql, t = e(node.expr)
            return f"(-{_num(sql, t)})", "num"
        if isinstance(node, ast.BinOp):
            lsql, lt = e(node.left)
            rsql, rt = e(node.right)
            if node.op in ("and", "or"):
                return f"({_bool(lsql, lt)} {node.op.upper()} {_bool(rsql, rt)})", "bool"
            a, b = _num(lsql, lt), _num(rsql, rt)
            if node.op == "/":
                return f"({a} / NULLIF({b}, 0))", "num"
            if node.op == "%":
                return f"fmod({a}, {b})", "num"
            if node.op == "^":
                return f"power({a}, {b})", "num"
            return f"({a} {node.op} {b})", "num"
        if isinstance(node, ast.Compare):
            lsql, lt = e(node.left)
            rsql, rt = e(node.right)
            op = "<>" if node.op == "!=" else node.op
            if lt == rt == "ts":
                return f"({lsql} {op} {rsql})", "bool"
            if "num" in (lt, rt) or "ts" in (lt, rt):
                return f"({_num(lsql, lt)} {op} {_num(rsql, rt)})", "bool"
            return f"({_text(lsql, lt)} {op} {_text(rsql, rt)})", "bool"
        if isinstance(node, ast.Like):
            sql, t = e(node.expr)
            subject = _text(sql, t)
            if isinstance(node.pattern, ast.Regex):
                cond = f"regexp_matches({subject}, {self.param(node.pattern.pattern)})"
            else:
                psql, pt = e(node.pattern)
                cond = f"contains({subject}, {_text(psql, pt)})"
            return (f"(NOT {cond})" if node.negate else cond), "bool"
        if isinstance(node, ast.In):
            sql, t = e(node.expr)
            if not node.items:
                return ("TRUE" if node.negate else "FALSE"), "bool"
            numeric = all(isinstance(i, ast.Number) for i in node.items)
            if numeric:
                items = ", ".join(self.param(i.value) for i in node.items)
                cond = f"{_num(sql, t)} IN ({items})"
            else:
                items = ", ".join(_text(*e(i)) for i in node.items)
                cond = f"{_text(sql, t)} IN ({items})"
            return (f"(NOT ({cond}))" if node.negate else f"({cond})"), "bool"
        if isinstance(node, ast.Call):
            return self.call(node, agg, in_agg)
        raise self.error(f"unsupported expression {type(node).__name__}")

    def _args(self, node: ast.Call, n_min: int, n_max: int | None = None):
        n_max = n_min if n_max is None else n_max
        if not (n_min <= len(node.args) <= n_max):
            want = str(n_min) if n_min == n_max else f"{n_min} to {n_max}"
            raise self.error(f"{node.name}() takes {want} argument(s), got {len(node.args)}", node)
        return node.args

    def _period(self, node: ast.Call, arg) -> int:
        if isinstance(arg, ast.Duration):
            if arg.ms <= 0:
                raise self.error(f"{node.name}() needs a time period greater than zero, such as 5m, 1h or 30s", node)
            return arg.ms
        raise self.error(f"{node.name}() needs a time period such as 5m, 1h or 30s", node)

    def call(self, node: ast.Call, agg: bool, in_agg: bool) -> tuple[str, str]:
        """A function call, through :data:`FUNCTIONS` (or :data:`AGGREGATE_FUNCTIONS` inside ``stats``)."""
        if node.name in AGGREGATES:
            if not agg:
                raise self.error(f"aggregate function {node.name}() can only be used in stats", node)
            if in_agg:
                raise self.error(f"aggregate function {node.name}() cannot be nested in another aggregate", node)
            return self.aggregate(node)
        function = FUNCTIONS.get(node.name)
        if function is None:
            raise self.error(f"unknown function {node.name}()", node)
        return function.build(self, node, self._args(node, *function.arity), lambda n: self.expr(n, agg, in_agg))

    def aggregate(self, node: ast.Call) -> tuple[str, str]:
        function = AGGREGATE_FUNCTIONS.get(node.name)
        if function is None:
            raise self.error(f"unknown aggregate {node.name}()", node)
        args = node.args if function.arity is None else self._args(node, *function.arity)
        return function.build(self, node, args, lambda n: self.expr(n, agg=True, in_agg=True))


# --- pattern: what a variable token looks like (RE2, applied in this order) ---------------------------------
TOKEN = "<*>"
TOKEN_RUN = r"(<\*>)+"          # adjacent tokens are one
PATTERN_TOKENS = (
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",          # UUID
    r"(?i)\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?",                # timestamp
    r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b",                                                # IPv4[:port]
    r"\b(?:0x)?[0-9a-fA-F]{16,}\b",                                                          # long hex id
    r"[A-Za-z_\-]*\d[\w.\-]*",                                                              # a token with a digit
)
SEVERITY_WORD = r"(?i)\b(fatal|critical|error|err|warning|warn|info|debug|trace)\b"
SEVERITY_LABELS = (("FATAL", "Fatal"), ("CRITICAL", "Fatal"), ("ERROR", "Error"), ("ERR", "Error"),
                   ("WARNING", "Warning"), ("WARN", "Warning"), ("INFO", "Info"), ("DEBUG", "Debug"),
                   ("TRACE", "Trace"))


# --- the supported Insights functions -------------------------------------------------------------------
# Each builder gets the compiler, the call, its arguments (arity already checked) and ``e``, which compiles
# an argument to ``(sql, type)``; it returns ``(sql, type)`` for the call.
Builder = Callable[[Compiler, ast.Call, Sequence, Callable], tuple[str, str]]


@dataclass(frozen=True)
class Function:
    arity: tuple[int, int] | None  # (min, max) arguments; None: the builder checks them
    build: Builder


def _bin(c: Compiler, node: ast.Call, args: Sequence, e: Callable) -> tuple[str, str]:
    period = c.param(c._period(node, args[0]))
    ts = c.resolve("@timestamp", node)
    return f"(({ts.sql} // {period}) * {period})", "ts"


def _date_round(c: Compiler, node: ast.Call, args: Sequence, e: Callable) -> tuple[str, str]:
    sql, t = e(args[0])
    period = c.param(c._period(node, args[1]))
    v = f"CAST({_num(sql, t)} AS BIGINT)"
    if node.name == "datefloor":
        return f"(({v} // {period}) * {period})", "ts"
    return f"((({v} + {period} - 1) // {period}) * {period})", "ts"


def _frommillis(c, node, args, e):
    return f"CAST({_num(*e(args[0]))} AS BIGINT)", "ts"


def _tomillis(c, node, args, e):
    sql, t = e(args[0])
    return f"CAST({sql if t == 'ts' else _num(sql, t)} AS DOUBLE)", "num"


def _ispresent(c, node, args, e):
    sql, _ = e(args[0])
    return f"({sql} IS NOT NULL)", "bool"


def _isempty(c, node, args, e):
    text = _text(*e(args[0]))
    inner = f"trim({text})" if node.name == "isblank" else text
    return f"({text} IS NULL OR {inner} = '')", "bool"


def _coalesce(c, node, args, e):
    compiled = [e(a) for a in args]
    types = {t for _, t in compiled if t != "null"}
    if len(types) == 1:
        return f"coalesce({', '.join(s for s, _ in compiled)})", types.pop()
    return f"coalesce({', '.join(_text(s, t) for s, t in compiled)})", "any"


def _strlen(c, node, args, e):
    return f"CAST(length({_text(*e(args[0]))}) AS DOUBLE)", "num"


def _case(c, node, args, e):
    return f"{'upper' if node.name == 'toupper' else 'lower'}({_text(*e(args[0]))})", "str"


def _trim(c, node, args, e):
    text = _text(*e(args[0]))
    if len(args) == 2:
        return f"{node.name}({text}, {_text(*e(args[1]))})", "str"
    return f"{node.name}({text})", "str"


def _concat(c, node, args, e):
    return f"concat({', '.join(_text(*e(a)) for a in args)})", "str"


def _substr(c, node, args, e):
    text = _text(*e(args[0]))
    start = f"CAST({_num(*e(args[1]))} AS BIGINT) + 1"
    if len(args) == 3:
        return f"substr({text}, {start}, CAST({_num(*e(args[2]))} AS BIGINT))", "str"
    return f"substr({text}, {start})", "str"


def _replace(c, node, args, e):
    a, b, d = args
    return f"replace({_text(*e(a))}, {_text(*e(b))}, {_text(*e(d))})", "str"


def _strcontains(c, node, args, e):
    a, b = args
    return f"(CASE WHEN contains({_text(*e(a))}, {_text(*e(b))}) THEN 1.0 ELSE 0.0 END)", "num"


def _math(c, node, args, e):
    fn = "ln" if node.name == "log" else node.name
    return f"CAST({fn}({_num(*e(args[0]))}) AS DOUBLE)", "num"


def _extreme(c, node, args, e):
    return f"{node.name}({', '.join(_num(*e(a)) for a in args)})", "num"


def _unmask(c, node, args, e):
    """unmask(@message): the event as ingested, before a data protection policy masked it (needs logs:Unmask)."""
    (arg,) = args
    if not isinstance(arg, ast.Field) or arg.name != "@message" or c.aggregated:
        raise c.error("unmask() takes @message, the masked log event, as its argument", node)
    c.unmasks = True
    return f"coalesce(c_unmasked, {c.resolve('@message', node).sql})", "str"


def _json_parse(c, node, args, e):
    """jsonParse(text): the text as a JSON value (a map or list a query reads with dots, or unnest), null when it is
    not JSON."""
    text = _text(*e(args[0]))
    return f"(CASE WHEN json_valid({text}) THEN {text} END)", "json"


FUNCTIONS: dict[str, Function] = {
    "unmask": Function((1, 1), _unmask),
    "jsonparse": Function((1, 1), _json_parse),
    "bin": Function((1, 1), _bin),
    "datefloor": Function((2, 2), _date_round),
    "dateceil": Function((2, 2), _date_round),
    "frommillis": Function((1, 1), _frommillis),
    "tomillis": Function((1, 1), _tomillis),
    "ispresent": Function((1, 1), _ispresent),
    "isempty": Function((1, 1), _isempty),
    "isblank": Function((1, 1), _isempty),
    "coalesce": Function((1, 32), _coalesce),
    "strlen": Function((1, 1), _strlen),
    "toupper": Function((1, 1), _case),
    "tolower": Function((1, 1), _case),
    "trim": Function((1, 2), _trim),
    "ltrim": Function((1, 2), _trim),
    "rtrim": Function((1, 2), _trim),
    "concat": Function((1, 64), _concat),
    "substr": Function((2, 3), _substr),
    "replace": Function((3, 3), _replace),
    "strcontains": Function((2, 2), _strcontains),
    **{name: Function((1, 1), _math) for name in ("abs", "ceil", "floor", "sqrt", "log")},
    "greatest": Function((1, 32), _extreme),
    "least": Function((1, 32), _extreme),
}


def _count(c: Compiler, node: ast.Call, args: Sequence, inner: Callable) -> tuple[str, str]:
    if not args or (len(args) == 1 and isinstance(args[0], ast.Star)):
        return "CAST(count(*) AS DOUBLE)", "num"
    (value,) = c._args(node, 1)
    sql, _ = inner(value)
    return f"CAST(count({sql}) AS DOUBLE)", "num"


def _count_distinct(c, node, args, inner):
    sql, _ = inner(args[0])
    return f"CAST(count(DISTINCT {sql}) AS DOUBLE)", "num"


def _numeric_aggregate(c, node, args, inner):
    fn = {"stddev": "stddev_samp"}.get(node.name, node.name)
    return f"CAST({fn}({_num(*inner(args[0]))}) AS DOUBLE)", "num"


def _min_max(c, node, args, inner):
    sql, t = inner(args[0])
    if t == "ts":
        return f"{node.name}({sql})", "ts"
    return f"{node.name}({_num(sql, t)})", "num"


def _percentile(c, node, args, inner):
    value, level = args
    if not isinstance(level, ast.Number) or not 0 <= level.value <= 100:
        raise c.error(f"{node.name}() needs a percentile between 0 and 100 as its second argument", node)
    return f"quantile_cont({_num(*inner(value))}, {c.param(level.value / 100.0)})", "num"


def _arg_extreme(c, node, args, inner):
    sql, t = inner(args[0])
    ts = c.resolve("@timestamp", node)
    fn = "arg_min" if node.name in ("earliest", "sortsfirst") else "arg_max"
    return f"{fn}({sql}, {ts.sql})", t


AGGREGATE_FUNCTIONS: dict[str, Function] = {
    "count": Function(None, _count),
    "count_distinct": Function((1, 1), _count_distinct),
    "sum": Function((1, 1), _numeric_aggregate),
    "avg": Function((1, 1), _numeric_aggregate),
    "stddev": Function((1, 1), _numeric_aggregate),
    "min": Function((1, 1), _min_max),
    "max": Function((1, 1), _min_max),
    "pct": Function((2, 2), _percentile),
    "percentile": Function((2, 2), _percentile),
    **{name: Function((1, 1), _arg_extreme) for name in ("earliest", "latest", "sortsfirst", "sortslast")},
}


def used_params(sql: str, params: dict) -> dict:
    """The subset of ``params`` that ``sql`` refers to (DuckDB rejects unused named parameters)."""
    import re

    names = set(re.findall(r"\$(p\d+)\b", sql))
    return {k: v for k, v in params.items() if k in names}


def to_sql(query: ast.Query, scope: Scope, limit: int | None = None) -> CompiledQuery:
    """The query as one DuckDB statement (plus its count statement) with bound parameters."""
    return Compiler(query, scope, limit).compile()
