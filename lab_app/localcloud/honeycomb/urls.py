"""The Honeycomb stand-in's port: OTLP ingest (Honeycomb's ingest host) and the API subset (its API host)."""
from __future__ import annotations

from werkzeug.routing import Map, Rule

INGEST_PATH = "/v1/traces"
METRICS_PATH = "/v1/metrics"
API_PREFIX = "/1/"

# no redirects: werkzeug answers a doubled or missing slash with a 308 to the canonical path, which is not an
# answer of Honeycomb's API (it raised out of the dispatcher as a 500)
url_map = Map(merge_slashes=False, strict_slashes=False, rules=[
    Rule(INGEST_PATH, endpoint="ingest", methods=["POST"]),
    Rule(METRICS_PATH, endpoint="ingest_metrics", methods=["POST"]),
    Rule("/1/auth", endpoint="auth", methods=["GET"]),
    Rule("/1/queries/<dataset>", endpoint="create_query", methods=["POST"]),
    Rule("/1/queries/<dataset>/<query_id>", endpoint="get_query", methods=["GET"]),
    Rule("/1/query_results/<dataset>", endpoint="run_query", methods=["POST"]),
    Rule("/1/query_results/<dataset>/<result_id>", endpoint="get_result", methods=["GET"]),
])
