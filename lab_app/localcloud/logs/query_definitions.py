"""CloudWatch Logs Insights saved queries: PutQueryDefinition / DescribeQueryDefinitions / DeleteQueryDefinition.

AWS's rules, from the API reference:

* PutQueryDefinition without ``queryDefinitionId`` creates a definition and answers its new id; with one it
  replaces ``name``, ``queryString``, ``logGroupNames`` and ``parameters`` ("No current values are retained": a
  member left out is gone). An id that does not exist is ``ResourceNotFoundException``.
* The query string is stored as given, not compiled: AWS's model lists no ``MalformedQueryException`` for
  PutQueryDefinition, and a saved query may hold ``{{parameter}}`` placeholders that only become Insights text
  when the query runs. Lengths (1..10,000) are checked by the model validation before the handler runs.
* ``clientToken`` makes a create idempotent: the same token answers the same id without a second definition.
* DescribeQueryDefinitions pages with ``maxResults`` 1..1000 (this stand-in's default: 1000), filters by
  ``queryDefinitionNamePrefix`` and ``queryLanguage``, in name order; each definition carries ``lastModified``
  (ms).
* DeleteQueryDefinition answers ``{"success": true}``; an unknown id is ``ResourceNotFoundException``.
* The local cloud keeps at most :data:`MAX_DEFINITIONS` definitions per Region and answers one more with
  ``LimitExceededException`` (the error the model lists for PutQueryDefinition); the number is this stand-in's
  bound, not a quota AWS documents.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from lab_app.localcloud.aws import paging
from lab_app.localcloud.logs import exceptions as exc

MAX_DEFINITIONS = 1000
MAX_RESULTS = 1000
LANGUAGES = ("CWLI", "SQL", "PPL")
DDL = """CREATE TABLE IF NOT EXISTS logs_query_definitions (
    region VARCHAR, id VARCHAR, name VARCHAR, query_string VARCHAR, groups VARCHAR, language VARCHAR,
    parameters VARCHAR, modified BIGINT, client_token VARCHAR, PRIMARY KEY (region, id))"""


class QueryDefinitions:
    def __init__(self, store, now_ms):
        self.store = store
        self.now_ms = now_ms

    def setup(self) -> None:
        self.store.ensure_table("logs_query_definitions", DDL)

    @staticmethod
    def _out(row: tuple) -> dict:
        qid, name, query_string, groups, language, parameters, modified = row
        out = {"queryLanguage": language, "queryDefinitionId": qid, "name": name, "queryString": query_string,
               "lastModified": int(modified), "logGroupNames": json.loads(groups)}
        if parameters is not None:
            out["parameters"] = json.loads(parameters)
        return out

    def put(self, region: str, body: dict) -> dict:
        name, query_string = body.get("name"), body.get("queryString")
        language = body.get("queryLanguage") or "CWLI"
        groups = list(body.get("logGroupNames") or [])
        parameters = body.get("parameters")
        names = [p.get("name") for p in parameters or []]
        if len(set(names)) != len(names):
            raise exc.InvalidParameterException("Query parameter names must be unique within a query definition.")
        definition_id, token = body.get("queryDefinitionId"), body.get("clientToken")
        now = self.now_ms()
        row = [name, query_string, json.dumps(groups), language,
               json.dumps(parameters) if parameters is not None else None, now]
        with self.store.lock:
            if definition_id is not None:
                if not self.store.execute("SELECT 1 FROM logs_query_definitions WHERE region = ? AND id = ?",
                                          [region, definition_id]):
                    raise exc.ResourceNotFoundException(f"Query definition {definition_id} does not exist.")
                self.store.execute(
                    "UPDATE logs_query_definitions SET name = ?, query_string = ?, groups = ?, language = ?, "
                    "parameters = ?, modified = ? WHERE region = ? AND id = ?", row + [region, definition_id])
                return {"queryDefinitionId": definition_id}
            if token is not None:
                same = self.store.execute("SELECT id FROM logs_query_definitions WHERE region = ? AND client_token = ?",
                                          [region, token])
                if same:
                    return {"queryDefinitionId": same[0][0]}
            count = self.store.execute("SELECT count(*) FROM logs_query_definitions WHERE region = ?", [region])[0][0]
            if count >= MAX_DEFINITIONS:
                raise exc.LimitExceededException(
                    f"Resource limit exceeded: at most {MAX_DEFINITIONS} query definitions per Region.")
            definition_id = str(uuid.uuid4())
            self.store.execute("INSERT INTO logs_query_definitions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               [region, definition_id, *row, token])
        return {"queryDefinitionId": definition_id}

    def describe(self, region: str, body: dict) -> dict:
        limit = body.get("maxResults") or MAX_RESULTS
        offset = 0
        if body.get("nextToken"):
            try:
                offset = int(paging.decode(body["nextToken"])["offset"])
            except (paging.InvalidToken, KeyError, TypeError, ValueError):
                raise exc.InvalidParameterException("The specified nextToken is invalid.") from None
        sql = ("SELECT id, name, query_string, groups, language, parameters, modified FROM logs_query_definitions "
               "WHERE region = ?")
        params: list[Any] = [region]
        if body.get("queryDefinitionNamePrefix"):
            sql += " AND starts_with(name, ?)"
            params.append(body["queryDefinitionNamePrefix"])
        if body.get("queryLanguage"):
            sql += " AND language = ?"
            params.append(body["queryLanguage"])
        rows = self.store.execute(sql + " ORDER BY name, id LIMIT ? OFFSET ?", params + [limit + 1, offset])
        out: dict = {"queryDefinitions": [self._out(r) for r in rows[:limit]]}
        if len(rows) > limit:
            out["nextToken"] = paging.encode({"offset": offset + limit})
        return out

    def delete(self, region: str, definition_id: str) -> dict:
        with self.store.lock:
            if not self.store.execute("SELECT 1 FROM logs_query_definitions WHERE region = ? AND id = ?",
                                      [region, definition_id]):
                raise exc.ResourceNotFoundException(f"Query definition {definition_id} does not exist.")
            self.store.execute("DELETE FROM logs_query_definitions WHERE region = ? AND id = ?", [region, definition_id])
        return {"success": True}
