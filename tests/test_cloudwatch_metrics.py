"""CloudWatch metrics in the local cloud with the real clients: PutMetricData / GetMetricStatistics /
GetMetricData (metric math) / ListMetrics, embedded metric format through CloudWatch Logs (aws-embedded-metrics
and watchtower), metric-math alarms and dashboards. Every expected value is worked out by hand in a comment."""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone

import boto3
import pytest
import requests
import watchtower
from aws_embedded_metrics.logger.metrics_context import MetricsContext
from aws_embedded_metrics.serializers.log_serializer import LogSerializer
from aws_embedded_metrics.storage_resolution import StorageResolution
from botocore.exceptions import ClientError

from lab_app.localcloud.cloudwatch import metric_math
from lab_app.localcloud.cloudwatch.emf import extract


def _dt(at: float) -> datetime:
    return datetime.fromtimestamp(at, timezone.utc)


def _minute(cloud, back: int = 30) -> float:
    """A whole minute ``back`` minutes before the local cloud's now (room for a half hour of data)."""
    return float(int(cloud.clock.now() // 60) * 60 - back * 60)


def _code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def cw(module_cloud):
    return boto3.client("cloudwatch")


# ---- metric math on its own (no server) ------------------------------------------------------------------
def _eval(text: str, **series):
    import pandas as pd

    index = pd.Index([0.0, 60.0, 120.0])
    values = {k: pd.Series(v, index=index, dtype=float, name=k) for k, v in series.items()}
    scope = metric_math.Scope(lookup=lambda i: values[i], metrics=lambda p: [values[k] for k in values
                                                                              if k.startswith(p)],
                              grid=index, period_of=lambda i: 60)
    return metric_math.evaluate(metric_math.parse(text), scope)


def test_precedence_and_scalars():
    assert _eval("1 + 2 * 3") == 7.0                 # * before +
    assert _eval("2 ^ 3 ^ 2") == 512.0               # ^ is right-associative: 2^(3^2)
    assert _eval("-2 ^ 2") == 4.0                    # unary minus binds tighter than ^ in CloudWatch's grammar
    assert _eval("(1 + 2) * 3") == 9.0
    assert _eval("10 / 4 - 1") == 1.5
    assert _eval("1 < 2 AND 3 >= 3") == 1.0
    assert _eval("1 > 2 || NOT 0") == 1.0


def test_series_arithmetic_fill_if_sum():
    nan = float("nan")
    # e / r * 100 per minute: 1/10*100 = 10, missing (r missing), 5/20*100 = 25
    out = _eval("e / r * 100", e=[1, 2, 5], r=[10, nan, 20])
    assert out.tolist()[0] == 10.0 and out.isna().tolist()[1] and out.tolist()[2] == 25.0
    # FILL(r, 0) turns the gap into 0, FILL(r, REPEAT) into the previous value 10
    assert _eval("FILL(r, 0)", r=[10, nan, 20]).tolist() == [10.0, 0.0, 20.0]
    assert _eval("FILL(r, REPEAT)", r=[10, nan, 20]).tolist() == [10.0, 10.0, 20.0]
    assert _eval("FILL(r, LINEAR)", r=[10, nan, 20]).tolist() == [10.0, 15.0, 20.0]
    # IF(e > 1, e, 0): 1 -> 0, 2 -> 2, 5 -> 5; without else the first is missing
    assert _eval("IF(e > 1, e, 0)", e=[1, 2, 5]).tolist() == [0.0, 2.0, 5.0]
    assert _eval("IF(e > 1, e)", e=[1, 2, 5]).isna().tolist() == [True, False, False]
    # SUM of an array is a series (per timestamp over the series present), of one series a scalar
    assert _eval("SUM(METRICS())", a=[1, nan, 3], b=[10, 20, nan]).tolist() == [11.0, 20.0, 3.0]
    assert _eval("SUM([a, b])", a=[1, nan, 3], b=[10, 20, nan]).tolist() == [11.0, 20.0, 3.0]
    assert _eval("SUM(a)", a=[1, nan, 3]) == 4.0
    assert _eval("AVG(a)", a=[1, nan, 3]) == 2.0
    assert _eval("MAX(METRICS(\"b\"))", a=[1, 2, 3], b=[7, 8, 9]).tolist() == [7.0, 8.0, 9.0]
    assert _eval("RUNNING_SUM(a)", a=[1, 2, 3]).tolist() == [1.0, 3.0, 6.0]
    # division by zero: no datapoint
    assert _eval("a / b", a=[1, 1, 1], b=[0, 1, 2]).isna().tolist() == [True, False, False]


@pytest.mark.parametrize("text, fragment", [
    ("m1 +", "Unexpected end of expression"),
    ("m1 $ 2", "Unexpected character '$'"),
    ("FOO(m1)", "Unknown function: FOO"),
    ("FILL(m1)", "takes 2 arguments"),
])
def test_bad_expressions_are_rejected(text, fragment):
    with pytest.raises(metric_math.ExpressionError) as excinfo:
        _eval(text, m1=[1, 2, 3])
    assert fragment in str(excinfo.value)


# ---- PutMetricData / GetMetricStatistics / ListMetrics ------------------------------------------------------
def test_statistics_by_hand(module_cloud, cw):
    t0 = _minute(module_cloud)
    dims = [{"Name": "route", "Value": "/api/x"}]
    cw.put_metric_data(Namespace="Lab/Stats", MetricData=[
        # minute 0: values 1, 2, 3 (3 twice via Counts) -> count 4, sum 9, min 1, max 3, avg 2.25
        {"MetricName": "latency", "Dimensions": dims, "Timestamp": _dt(t0 + 5), "Values": [1, 2, 3],
         "Counts": [1, 1, 2], "Unit": "Milliseconds"},
        # minute 1: a statistic set: count 10, sum 50, min 1, max 9 -> avg 5
        {"MetricName": "latency", "Dimensions": dims, "Timestamp": _dt(t0 + 70), "Unit": "Milliseconds",
         "StatisticValues": {"SampleCount": 10, "Sum": 50, "Minimum": 1, "Maximum": 9}},
        # another dimension set: a different metric
        {"MetricName": "latency", "Dimensions": [{"Name": "route", "Value": "/api/y"}], "Timestamp": _dt(t0 + 5),
         "Value": 100, "Unit": "Milliseconds"},
    ])
    got = cw.get_metric_statistics(Namespace="Lab/Stats", MetricName="latency", Dimensions=dims,
                                   StartTime=_dt(t0), EndTime=_dt(t0 + 120), Period=60,
                                   Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"])
    points = sorted(got["Datapoints"], key=lambda p: p["Timestamp"])
    assert got["Label"] == "latency" and len(points) == 2
    assert (points[0]["SampleCount"], points[0]["Sum"], points[0]["Minimum"], points[0]["Maximum"],
            points[0]["Average"]) == (4.0, 9.0, 1.0, 3.0, 2.25)
    assert (points[1]["SampleCount"], points[1]["Sum"], points[1]["Average"]) == (10.0, 50.0, 5.0)
    assert points[0]["Unit"] == "Milliseconds" and points[0]["Timestamp"].timestamp() == t0
    # one five-minute period over both: count 14, sum 59
    five = cw.get_metric_statistics(Namespace="Lab/Stats", MetricName="latency", Dimensions=dims,
                                    StartTime=_dt(t0), EndTime=_dt(t0 + 300), Period=300, Statistics=["Sum"])
    assert [p["Sum"] for p in five["Datapoints"]] == [59.0]
    # p50 of the raw values 1, 2, 3, 3: nearest rank ceil(0.5 * 4) = 2nd -> 2 (statistic sets have no values)
    p = cw.get_metric_statistics(Namespace="Lab/Stats", MetricName="latency", Dimensions=dims, StartTime=_dt(t0),
                                 EndTime=_dt(t0 + 60), Period=60, ExtendedStatistics=["p50", "p99"])
    assert p["Datapoints"][0]["ExtendedStatistics"] == {"p50": 2.0, "p99": 3.0}
    # a unit filter that matches nothing, and no dimensions (a different metric): no datapoints
    assert cw.get_metric_statistics(Namespace="Lab/Stats", MetricName="latency", Dimensions=dims,
                                    StartTime=_dt(t0), EndTime=_dt(t0 + 120), Period=60, Statistics=["Sum"],
                                    Unit="Seconds")["Datapoints"] == []
    assert cw.get_metric_statistics(Namespace="Lab/Stats", MetricName="latency", StartTime=_dt(t0),
                                    EndTime=_dt(t0 + 120), Period=60, Statistics=["Sum"])["Datapoints"] == []
    listed = cw.list_metrics(Namespace="Lab/Stats")["Metrics"]
    assert sorted(m["Dimensions"][0]["Value"] for m in listed) == ["/api/x", "/api/y"]
    only_y = cw.list_metrics(Namespace="Lab/Stats", Dimensions=[{"Name": "route", "Value": "/api/y"}])["Metrics"]
    assert [m["Dimensions"] for m in only_y] == [[{"Name": "route", "Value": "/api/y"}]]
    assert cw.list_metrics(Namespace="Lab/Stats", Dimensions=[{"Name": "status"}])["Metrics"] == []


@pytest.mark.parametrize("kwargs, code", [
    ({"Namespace": "AWS/EC2", "MetricData": [{"MetricName": "m", "Value": 1.0}]}, "InvalidParameterValue"),
    ({"Namespace": "Lab", "MetricData": [{"MetricName": "m", "Value": 1.0,
                                          "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1,
                                                              "Maximum": 1}}]}, "InvalidParameterCombination"),
    ({"Namespace": "Lab", "MetricData": [{"MetricName": "m", "Value": 1.0, "Unit": "Parsecs"}]},
     "InvalidParameterValue"),
    ({"Namespace": "Lab", "MetricData": [{"MetricName": "m", "Value": 1.0, "StorageResolution": 5}]},
     "InvalidParameterValue"),
    ({"Namespace": "Lab", "MetricData": [{"MetricName": "m", "Values": [1.0, 2.0], "Counts": [1.0]}]},
     "InvalidParameterValue"),
    ({"Namespace": "Lab", "MetricData": [{"MetricName": "m", "Value": 1.0,
                                          "Timestamp": datetime(2020, 1, 1, tzinfo=timezone.utc)}]},
     "InvalidParameterValue"),
])
def test_put_metric_data_errors(cw, kwargs, code):
    with pytest.raises(ClientError) as excinfo:
        cw.put_metric_data(**kwargs)
    assert _code(excinfo) == code
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_get_metric_statistics_errors_and_the_server_keeps_serving(module_cloud, cw):
    t0 = _minute(module_cloud)
    base = dict(Namespace="Lab", MetricName="m", StartTime=_dt(t0), EndTime=_dt(t0 + 600))
    with pytest.raises(ClientError) as excinfo:
        cw.get_metric_statistics(**base, Period=45, Statistics=["Sum"])
    assert _code(excinfo) == "InvalidParameterValue"
    with pytest.raises(ClientError) as excinfo:
        cw.get_metric_statistics(**base, Period=60)
    assert _code(excinfo) == "MissingParameter"
    with pytest.raises(ClientError) as excinfo:
        cw.get_metric_statistics(**base, Period=60, Statistics=["Sum"], ExtendedStatistics=["p90"])
    assert _code(excinfo) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as excinfo:   # 1,441 one-second periods
        cw.get_metric_statistics(Namespace="Lab", MetricName="m", StartTime=_dt(t0), EndTime=_dt(t0 + 1441),
                                 Period=1, Statistics=["Sum"])
    assert _code(excinfo) == "InvalidParameterCombination" and "1,441" in str(excinfo.value)
    raw = requests.post(module_cloud.aws_url, data=b"{not json", headers={
        "X-Amz-Target": "GraniteServiceVersion20100801.GetMetricData", "Content-Type": "application/x-amz-json-1.0"})
    assert raw.status_code == 400
    cw.put_metric_data(Namespace="Lab", MetricData=[{"MetricName": "alive", "Value": 1.0}])
    assert cw.list_metrics(Namespace="Lab", MetricName="alive")["Metrics"]


# ---- GetMetricData ----------------------------------------------------------------------------------------
def _stat(name: str, stat: str = "Sum", period: int = 60, ns: str = "Lab/Math") -> dict:
    return {"Metric": {"Namespace": ns, "MetricName": name}, "Period": period, "Stat": stat}


def test_get_metric_data_with_metric_math(module_cloud, cw):
    t0 = _minute(module_cloud)
    # requests per minute 10, 20, 40; errors 1, -, 4  (minute 1 has no error datapoint)
    data = [{"MetricName": "requests", "Timestamp": _dt(t0 + 60 * i + 1), "Value": v} for i, v in enumerate([10, 20, 40])]
    data += [{"MetricName": "errors", "Timestamp": _dt(t0 + 1), "Value": 1},
             {"MetricName": "errors", "Timestamp": _dt(t0 + 121), "Value": 4}]
    cw.put_metric_data(Namespace="Lab/Math", MetricData=data)
    got = cw.get_metric_data(StartTime=_dt(t0 + 30), EndTime=_dt(t0 + 180), ScanBy="TimestampAscending",
                             MetricDataQueries=[
        {"Id": "r", "MetricStat": _stat("requests"), "ReturnData": False},
        {"Id": "e", "MetricStat": _stat("errors"), "ReturnData": False},
        {"Id": "rate", "Expression": "100 * FILL(e, 0) / r", "Label": "error rate %"},
        {"Id": "raw", "Expression": "e / r"},
        {"Id": "total", "Expression": "SUM(METRICS())"},
        {"Id": "bad", "Expression": "IF(e / r > 0.05, 1, 0)"},
        {"Id": "req", "MetricStat": _stat("requests")},
    ])
    results = {r["Id"]: r for r in got["MetricDataResults"]}
    assert list(results) == ["rate", "raw", "total", "bad", "req"]          # ReturnData=False left out
    # StartTime 00:30 is rounded down to the minute: periods start at t0, t0+60, t0+120
    assert [t.timestamp() for t in results["rate"]["Timestamps"]] == [t0, t0 + 60, t0 + 120]
    assert results["rate"]["Values"] == [10.0, 0.0, 10.0]                    # 100*1/10, 100*0/20, 100*4/40
    assert results["rate"]["Label"] == "error rate %"
    assert results["raw"]["Values"] == [0.1, 0.1]                            # minute 1 missing in e
    # METRICS() is every MetricStat query (r, e and req): 10+1+10, 20+20, 40+4+40
    assert results["total"]["Values"] == [21.0, 40.0, 84.0]
    assert results["bad"]["Values"] == [1.0, 1.0]                            # 0.1 > 0.05 twice
    assert results["req"]["Label"] == "requests" and results["req"]["Values"] == [10.0, 20.0, 40.0]
    assert all(r["StatusCode"] == "Complete" and r["Messages"] == [] for r in results.values())
    assert got["Messages"] == []
    newest_first = cw.get_metric_data(StartTime=_dt(t0), EndTime=_dt(t0 + 180),
                                      MetricDataQueries=[{"Id": "r", "MetricStat": _stat("requests")}])
    assert newest_first["MetricDataResults"][0]["Values"] == [40.0, 20.0, 10.0]
    # MaxDatapoints=2: a page with 2 values (PartialData) and a NextToken for the third
    page1 = cw.get_metric_data(StartTime=_dt(t0), EndTime=_dt(t0 + 180), MaxDatapoints=2,
                               MetricDataQueries=[{"Id": "r", "MetricStat": _stat("requests")}])
    assert page1["MetricDataResults"][0]["Values"] == [40.0, 20.0]
    assert page1["MetricDataResults"][0]["StatusCode"] == "PartialData"
    page2 = cw.get_metric_data(StartTime=_dt(t0), EndTime=_dt(t0 + 180), MaxDatapoints=2,
                               NextToken=page1["NextToken"],
                               MetricDataQueries=[{"Id": "r", "MetricStat": _stat("requests")}])
    assert page2["MetricDataResults"][0]["Values"] == [10.0] and "NextToken" not in page2
    # the paginator boto3 ships walks the same pages
    pages = list(cw.get_paginator("get_metric_data").paginate(
        StartTime=_dt(t0), EndTime=_dt(t0 + 180), MetricDataQueries=[{"Id": "r", "MetricStat": _stat("requests")}],
        PaginationConfig={"PageSize": 2}))
    assert [v for p in pages for v in p["MetricDataResults"][0]["Values"]] == [40.0, 20.0, 10.0]


@pytest.mark.parametrize("queries, fragment", [
    ([{"Id": "M1", "MetricStat": _stat("requests")}],
     "The value M1 for parameter MetricDataQueries.member.1.Id is not matching the expected pattern "
     "^[a-z][a-zA-Z0-9_]*$."),
    ([{"Id": "m1", "MetricStat": _stat("requests"), "Expression": "1"}], "Exactly one of the parameters"),
    ([{"Id": "m1", "MetricStat": _stat("requests")}, {"Id": "m1", "Expression": "m1 * 2"}], "is not unique"),
    ([{"Id": "e1", "Expression": "m9 * 2"}], "Error in expression e1: Unrecognized metric or expression id: m9"),
    ([{"Id": "e1", "Expression": "SUM(m1"}, {"Id": "m1", "MetricStat": _stat("requests")}],
     "Error in expression e1: Unexpected end of expression"),
    ([{"Id": "a", "Expression": "b + 1"}, {"Id": "b", "Expression": "a + 1"}], "Circular dependency"),
    ([{"Id": "m1", "MetricStat": _stat("requests", stat="Median")}], "MetricStat.Stat is not valid"),
    ([{"Id": "m1", "MetricStat": _stat("requests", period=45)}], "MetricStat.Period must be"),
])
def test_get_metric_data_validation(module_cloud, cw, queries, fragment):
    t0 = _minute(module_cloud)
    with pytest.raises(ClientError) as excinfo:
        cw.get_metric_data(StartTime=_dt(t0), EndTime=_dt(t0 + 60), MetricDataQueries=queries)
    assert _code(excinfo) == "ValidationError"
    assert fragment in excinfo.value.response["Error"]["Message"]


def test_bad_next_token(module_cloud, cw):
    t0 = _minute(module_cloud)
    with pytest.raises(ClientError) as excinfo:
        cw.get_metric_data(StartTime=_dt(t0), EndTime=_dt(t0 + 60), NextToken="nope",
                           MetricDataQueries=[{"Id": "m", "MetricStat": _stat("requests")}])
    assert _code(excinfo) == "InvalidNextToken"


# ---- embedded metric format --------------------------------------------------------------------------------
def _emf_line(route: str, status: str, latency: float, *, high_res: bool = False) -> str:
    """One EMF document, written by AWS's own aws-embedded-metrics serializer."""
    context = MetricsContext.empty()
    context.namespace = "Lab/EMF"
    context.set_dimensions([{"route": route}, {"route": route, "status": status}])
    context.put_metric("requests", 1, "Count")
    context.put_metric("latency", latency, "Milliseconds",
                       StorageResolution.HIGH if high_res else StorageResolution.STANDARD)
    context.set_property("trace_id", "1-abc")
    (line,) = LogSerializer.serialize(context)
    return line


def _log_client(group: str, stream: str):
    logs = boto3.client("logs")
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    return logs


def test_emf_from_aws_embedded_metrics_becomes_metrics(module_cloud, cw):
    logs = _log_client("emf", "serializer")
    lines = [_emf_line("/api/a", "200", 12.0), _emf_line("/api/a", "500", 30.0), _emf_line("/api/b", "200", 7.0)]
    assert extract(lines[0])[0][0] == "Lab/EMF"
    now_ms = int(module_cloud.clock.now() * 1000)
    invalid = [
        json.dumps({"_aws": {"Timestamp": now_ms, "CloudWatchMetrics": [{"Namespace": "Lab/EMF",
                    "Dimensions": [["missing_key"]], "Metrics": [{"Name": "requests"}]}]}, "requests": 1}),
        json.dumps({"_aws": {"Timestamp": now_ms, "CloudWatchMetrics": [{"Namespace": "Lab/EMF",
                    "Dimensions": [[]], "Metrics": [{"Name": "requests"}]}]}, "requests": "one"}),
        json.dumps({"_aws": {"CloudWatchMetrics": [{"Namespace": "Lab/EMF", "Dimensions": [[]],
                    "Metrics": [{"Name": "requests"}]}]}, "requests": 1}),          # no Timestamp
        "not json {\"_aws\": 1}",
    ]
    events = [{"timestamp": now_ms, "message": m} for m in lines + invalid]
    logs.put_log_events(logGroupName="emf", logStreamName="serializer", logEvents=events)
    # every event is stored, the invalid ones as plain events
    stored = logs.get_log_events(logGroupName="emf", logStreamName="serializer", startFromHead=True)["events"]
    assert [e["message"] for e in stored] == lines + invalid
    start, end = _dt(now_ms / 1000 - 120), _dt(now_ms / 1000 + 120)

    def total(name, dims, stat="Sum"):
        points = cw.get_metric_statistics(Namespace="Lab/EMF", MetricName=name, Dimensions=dims, StartTime=start,
                                          EndTime=end, Period=300, Statistics=[stat])["Datapoints"]
        return sum(p[stat] for p in points)

    # each dimension set is its own metric: route=/api/a has 2 requests, route=/api/a,status=500 has 1
    assert total("requests", [{"Name": "route", "Value": "/api/a"}]) == 2.0
    assert total("requests", [{"Name": "route", "Value": "/api/a"}, {"Name": "status", "Value": "500"}]) == 1.0
    assert total("latency", [{"Name": "route", "Value": "/api/a"}], "Maximum") == 30.0
    # the invalid events made no metric: nothing without dimensions, and 3 requests in all under route sets
    assert total("requests", []) == 0.0
    names = {(m["MetricName"], tuple(d["Name"] for d in m["Dimensions"]))
             for m in cw.list_metrics(Namespace="Lab/EMF")["Metrics"]}
    assert names == {("requests", ("route",)), ("requests", ("route", "status")), ("latency", ("route",)),
                     ("latency", ("route", "status"))}
    unit = cw.get_metric_statistics(Namespace="Lab/EMF", MetricName="latency", StartTime=start, EndTime=end,
                                    Dimensions=[{"Name": "route", "Value": "/api/b"}], Period=300,
                                    Statistics=["Sum"])["Datapoints"][0]["Unit"]
    assert unit == "Milliseconds"


def test_emf_high_resolution_and_value_arrays(module_cloud, cw):
    logs = _log_client("emf", "highres")
    t = int(module_cloud.clock.now()) - 60
    line = json.dumps({"_aws": {"Timestamp": t * 1000 + 2500, "CloudWatchMetrics": [{
        "Namespace": "Lab/EMFHR", "Dimensions": [["svc"]],
        "Metrics": [{"Name": "lat", "Unit": "Milliseconds", "StorageResolution": 1}]}]},
        "svc": "api", "lat": [5, 7, 9]})
    logs.put_log_events(logGroupName="emf", logStreamName="highres", logEvents=[{"timestamp": t * 1000,
                                                                                  "message": line}])
    got = cw.get_metric_data(StartTime=_dt(t), EndTime=_dt(t + 10), MetricDataQueries=[{
        "Id": "n", "MetricStat": {"Metric": {"Namespace": "Lab/EMFHR", "MetricName": "lat",
                                             "Dimensions": [{"Name": "svc", "Value": "api"}]},
                                  "Period": 1, "Stat": "SampleCount"}}])["MetricDataResults"][0]
    # high resolution: kept on its second (t + 2), three values
    assert [ts.timestamp() for ts in got["Timestamps"]] == [t + 2] and got["Values"] == [3.0]


def test_emf_through_watchtower(module_cloud, cw):
    _log_client("emf-wt", "app")
    handler = watchtower.CloudWatchLogHandler(log_group_name="emf-wt", log_stream_name="app", send_interval=0.05,
                                              boto3_client=boto3.client("logs"), create_log_group=False)
    logger = logging.getLogger("test.emf.watchtower")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.handlers = [handler]
    for latency in (10.0, 20.0, 60.0):
        logger.info(_emf_line("/api/wt", "200", latency))
    handler.flush()
    handler.close()
    now = module_cloud.clock.now()
    points = cw.get_metric_statistics(Namespace="Lab/EMF", MetricName="latency", StartTime=_dt(now - 300),
                                      EndTime=_dt(now + 60), Period=600, Statistics=["Average", "SampleCount"],
                                      Dimensions=[{"Name": "route", "Value": "/api/wt"}])["Datapoints"]
    assert len(points) == 1 and points[0]["SampleCount"] == 3.0 and points[0]["Average"] == 30.0  # (10+20+60)/3


# ---- metric-math alarms -------------------------------------------------------------------------------------
def _advance(cloud, seconds: float) -> None:
    headers = {}
    token = getattr(cloud, "control_token", None)      # where the local cloud guards its control routes
    if token:
        from lab_app.localcloud.guard import TOKEN_HEADER

        headers[TOKEN_HEADER] = token
    answer = requests.post(cloud.aws_url + "/_localcloud/clock", json={"advance_seconds": seconds}, headers=headers,
                           timeout=30)
    assert answer.status_code == 200


def test_metric_math_alarm_fires_and_recovers(module_cloud, cw):
    now = module_cloud.clock.now()
    _advance(module_cloud, (int(now // 60) + 1) * 60 + 1 - now)     # one second past a minute boundary
    b0 = float(int(module_cloud.clock.now() // 60) * 60)
    queries = [
        {"Id": "e", "MetricStat": _stat("errors", ns="Lab/Alarm"), "ReturnData": False},
        {"Id": "r", "MetricStat": _stat("requests", ns="Lab/Alarm"), "ReturnData": False},
        {"Id": "rate", "Expression": "FILL(e, 0) / r", "Label": "error ratio"},
    ]
    cw.put_metric_alarm(AlarmName="math-rate", Metrics=queries, EvaluationPeriods=1, Threshold=0.1,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")
    alarm = cw.describe_alarms(AlarmNames=["math-rate"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA" and [m["Id"] for m in alarm["Metrics"]] == ["e", "r", "rate"]
    # minute b0: 3 errors of 10 requests -> 0.3 > 0.1 -> ALARM at b0 + 60
    cw.put_metric_data(Namespace="Lab/Alarm", MetricData=[
        {"MetricName": "requests", "Value": 10, "Timestamp": _dt(b0 + 5)},
        {"MetricName": "errors", "Value": 3, "Timestamp": _dt(b0 + 6)}])
    _advance(module_cloud, 60)
    alarm = cw.describe_alarms(AlarmNames=["math-rate"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM"
    assert "[0.3 (" in alarm["StateReason"]
    assert json.loads(alarm["StateReasonData"])["recentDatapoints"] == [0.3]
    # minute b0+60: 20 requests, no errors -> FILL(e, 0) / r = 0 -> OK
    cw.put_metric_data(Namespace="Lab/Alarm", MetricData=[
        {"MetricName": "requests", "Value": 20, "Timestamp": _dt(b0 + 65)}])
    _advance(module_cloud, 60)
    assert cw.describe_alarms(AlarmNames=["math-rate"])["MetricAlarms"][0]["StateValue"] == "OK"


@pytest.mark.parametrize("metrics, fragment", [
    ([{"Id": "m1", "MetricStat": _stat("x")}, {"Id": "e1", "Expression": "m1 * 2"}], "exactly one element"),
    ([{"Id": "Bad", "MetricStat": _stat("x")}], "is not matching the expected pattern"),
    ([{"Id": "m1", "MetricStat": _stat("x"), "ReturnData": False}, {"Id": "e1", "Expression": "NOPE(m1)"}],
     "Unknown function: NOPE"),
])
def test_metric_math_alarm_validation(cw, metrics, fragment):
    with pytest.raises(ClientError) as excinfo:
        cw.put_metric_alarm(AlarmName="bad-math", Metrics=metrics, EvaluationPeriods=1, Threshold=1.0,
                            ComparisonOperator="GreaterThanThreshold")
    assert _code(excinfo) == "ValidationError" and fragment in excinfo.value.response["Error"]["Message"]


# ---- dashboards ------------------------------------------------------------------------------------------
def test_dashboards(cw):
    body = {"widgets": [
        {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {
            "metrics": [["Lab/Math", "requests"], [{"expression": "m1 * 2", "id": "e1"}]],
            "view": "timeSeries", "region": "us-east-1", "period": 60, "stat": "Sum"}},
        {"type": "text", "x": 12, "y": 0, "width": 12, "height": 2, "properties": {"markdown": "# SLOs"}}]}
    assert cw.put_dashboard(DashboardName="slo-board", DashboardBody=json.dumps(body))[
        "DashboardValidationMessages"] == []
    got = cw.get_dashboard(DashboardName="slo-board")
    assert json.loads(got["DashboardBody"]) == body
    assert got["DashboardArn"].startswith("arn:aws:cloudwatch::") and got["DashboardArn"].endswith(
        ":dashboard/slo-board")
    entries = cw.list_dashboards(DashboardNamePrefix="slo")["DashboardEntries"]
    assert [e["DashboardName"] for e in entries] == ["slo-board"]
    assert entries[0]["Size"] == len(json.dumps(body).encode())
    bad = {"widgets": [{"type": "metric", "x": 0, "y": 0, "width": 30, "height": 6, "properties": {}},
                       {"type": "text", "properties": {"markdown": 1}}]}
    with pytest.raises(ClientError) as excinfo:
        cw.put_dashboard(DashboardName="slo-board", DashboardBody=json.dumps(bad))
    error = excinfo.value.response
    assert error["Error"]["Code"] == "InvalidParameterInput"
    assert error["Error"]["Message"].startswith("The dashboard body is invalid, there are 3 validation errors:")
    assert error["dashboardValidationMessages"] == [      # botocore parses them into the model's shape
        {"DataPath": "/widgets/0/width", "Message": "Should be <= 24"},
        {"DataPath": "/widgets/0/properties", "Message": "Should have required property 'metrics'"},
        {"DataPath": "/widgets/1/properties", "Message": "Should have required property 'markdown'"}]
    with pytest.raises(ClientError) as excinfo:
        cw.put_dashboard(DashboardName="slo-board", DashboardBody="{nope")
    assert _code(excinfo) == "InvalidParameterInput"
    assert json.loads(cw.get_dashboard(DashboardName="slo-board")["DashboardBody"]) == body   # unchanged
    with pytest.raises(ClientError) as excinfo:
        cw.put_dashboard(DashboardName="no spaces", DashboardBody=json.dumps(body))
    assert _code(excinfo) == "InvalidParameterInput"
    cw.delete_dashboards(DashboardNames=["slo-board"])
    with pytest.raises(ClientError) as excinfo:
        cw.get_dashboard(DashboardName="slo-board")
    assert _code(excinfo) == "ResourceNotFound"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as excinfo:
        cw.delete_dashboards(DashboardNames=["slo-board"])
    assert _code(excinfo) == "ResourceNotFound"


def test_metrics_survive_a_restart(tmp_path):
    from lab_app.localcloud.server import LocalCloud

    lc = LocalCloud(tmp_path / "lab", aws_port=0, otlp_port=0, daemon_port=0).start()
    client = boto3.client("cloudwatch", endpoint_url=lc.aws_url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # pragma: allowlist secret
    at = time.time() - 120
    client.put_metric_data(Namespace="Lab/Durable", MetricData=[{"MetricName": "m", "Value": 4.0,
                                                                 "Timestamp": _dt(at)}])
    lc.stop()
    lc = LocalCloud(tmp_path / "lab", aws_port=0, otlp_port=0, daemon_port=0).start()
    try:
        client = boto3.client("cloudwatch", endpoint_url=lc.aws_url, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")  # pragma: allowlist secret
        points = client.get_metric_statistics(Namespace="Lab/Durable", MetricName="m", StartTime=_dt(at - 60),
                                              EndTime=_dt(at + 60), Period=120, Statistics=["Sum"])["Datapoints"]
        assert [p["Sum"] for p in points] == [4.0]
    finally:
        lc.stop()


# ---- composite alarms --------------------------------------------------------------------------------------
def test_composite_alarm_follows_its_children(cw):
    for name in ("child-long", "child-short"):
        cw.put_metric_alarm(AlarmName=name, MetricName=name, Namespace="Lab/Composite", Statistic="Sum", Period=60,
                            EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
    cw.put_composite_alarm(AlarmName="both", AlarmRule='ALARM("child-long") AND ALARM(child-short)')
    composite = cw.describe_alarms(AlarmNames=["both"], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"][0]
    # both children start INSUFFICIENT_DATA: the rule is FALSE -> OK
    assert composite["StateValue"] == "OK" and composite["AlarmRule"].startswith('ALARM("child-long")')
    cw.set_alarm_state(AlarmName="child-long", StateValue="ALARM", StateReason="test")
    assert cw.describe_alarms(AlarmNames=["both"], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"][0][
        "StateValue"] == "OK"                                       # one of two: still FALSE
    cw.set_alarm_state(AlarmName="child-short", StateValue="ALARM", StateReason="test")
    composite = cw.describe_alarms(AlarmNames=["both"], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"][0]
    assert composite["StateValue"] == "ALARM" and "child-short transitioned to ALARM" in composite["StateReason"]
    data = json.loads(composite["StateReasonData"])
    assert sorted(t["state"]["value"] for t in data["triggeringAlarms"]) == ["ALARM", "ALARM"]
    history = cw.describe_alarm_history(AlarmName="both", HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    assert [(h["AlarmType"], h["HistorySummary"]) for h in history][0] == (
        "CompositeAlarm", "Alarm updated from OK to ALARM")
    # without AlarmTypes, DescribeAlarms answers metric alarms only
    plain = cw.describe_alarms(AlarmNames=["both", "child-long"])
    assert [a["AlarmName"] for a in plain["MetricAlarms"]] == ["child-long"] and plain["CompositeAlarms"] == []
    only = cw.describe_alarms(AlarmNames=["both", "child-long"], AlarmTypes=["CompositeAlarm"])
    assert only["MetricAlarms"] == [] and [a["AlarmName"] for a in only["CompositeAlarms"]] == ["both"]
    with pytest.raises(ClientError) as excinfo:
        cw.describe_alarms(AlarmTypes=["Nope"])
    assert _code(excinfo) == "ValidationError"
    with pytest.raises(ClientError) as excinfo:
        cw.put_composite_alarm(AlarmName="bad", AlarmRule="ALARM(a) AND")
    assert _code(excinfo) == "ValidationError"


def test_awscli_metric_math_and_an_error(module_cloud, tmp_path):
    """The awscli (the seed's other client): a GetMetricData expression from --cli-input-json, and a bad Id."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    t0 = _minute(module_cloud, back=10)
    boto3.client("cloudwatch").put_metric_data(Namespace="Lab/CLI", MetricData=[
        {"MetricName": "hits", "Value": 4.0, "Timestamp": _dt(t0 + 1)},
        {"MetricName": "misses", "Value": 1.0, "Timestamp": _dt(t0 + 2)}])
    spec = {"StartTime": t0, "EndTime": t0 + 60, "MetricDataQueries": [
        {"Id": "h", "MetricStat": _stat("hits", ns="Lab/CLI"), "ReturnData": False},
        {"Id": "m", "MetricStat": _stat("misses", ns="Lab/CLI"), "ReturnData": False},
        {"Id": "ratio", "Expression": "100 * h / (h + m)", "Label": "hit ratio"}]}
    (tmp_path / "q.json").write_text(json.dumps(spec))
    aws = str(Path(sys.executable).with_name("aws"))
    env = dict(os.environ)
    out = subprocess.run([aws, "cloudwatch", "get-metric-data", "--cli-input-json", f"file://{tmp_path / 'q.json'}",
                          "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)["MetricDataResults"][0]
    assert (result["Id"], result["Label"], result["Values"]) == ("ratio", "hit ratio", [80.0])   # 100 * 4 / 5
    spec["MetricDataQueries"][0]["Id"] = "H"
    (tmp_path / "q.json").write_text(json.dumps(spec))
    bad = subprocess.run([aws, "cloudwatch", "get-metric-data", "--cli-input-json", f"file://{tmp_path / 'q.json'}"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "(ValidationError)" in bad.stderr and "not matching the expected pattern" in bad.stderr


def test_list_metrics_pages_and_time_errors(module_cloud, cw):
    # 501 metrics (one per dimension value): a page of 500 and a NextToken for the last one
    cw.put_metric_data(Namespace="Lab/Many", MetricData=[
        {"MetricName": "m", "Value": 1.0, "Dimensions": [{"Name": "i", "Value": f"{i:04d}"}]} for i in range(501)])
    first = cw.list_metrics(Namespace="Lab/Many")
    assert len(first["Metrics"]) == 500 and "NextToken" in first
    second = cw.list_metrics(Namespace="Lab/Many", NextToken=first["NextToken"])
    assert [m["Dimensions"][0]["Value"] for m in second["Metrics"]] == ["0500"] and "NextToken" not in second
    with pytest.raises(ClientError) as excinfo:
        cw.list_metrics(Namespace="Lab/Many", NextToken="garbage")
    assert _code(excinfo) == "InvalidNextToken"
    t0 = _minute(module_cloud)
    with pytest.raises(ClientError) as excinfo:   # EndTime before StartTime
        cw.get_metric_data(StartTime=_dt(t0 + 60), EndTime=_dt(t0), MetricDataQueries=[
            {"Id": "m", "MetricStat": _stat("m", ns="Lab/Many")}])
    assert _code(excinfo) == "ValidationError" and "StartTime must be less than" in str(excinfo.value)
    with pytest.raises(ClientError) as excinfo:
        cw.get_metric_statistics(Namespace="Lab/Many", MetricName="m", StartTime=_dt(t0 + 60), EndTime=_dt(t0),
                                 Period=60, Statistics=["Sum"])
    assert _code(excinfo) == "InvalidParameterValue"
