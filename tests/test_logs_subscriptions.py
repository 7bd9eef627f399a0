"""Subscription filters and destinations: boto3 and the awscli against the local cloud; what arrives in Kinesis,
Firehose (its S3 bucket) and Lambda is decompressed and compared with the documented payload built by hand."""
from __future__ import annotations

import base64
import gzip
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
AWS_CLI = Path(sys.executable).with_name("aws")


@pytest.fixture(scope="module")
def env(module_cloud):
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="cwl-to-kinesis", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    return {"cloud": module_cloud, "logs": boto3.client("logs"), "kinesis": boto3.client("kinesis"), "role": role}


def make_stream(kinesis, name: str) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=1)
    return kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]


def records(kinesis, name: str) -> list[tuple[str, dict]]:
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return [(r["PartitionKey"], json.loads(gzip.decompress(r["Data"])))
            for r in kinesis.get_records(ShardIterator=iterator)["Records"]]


def group_with_stream(logs, group: str, stream: str = "web-1") -> None:
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)


def flush(env) -> None:
    assert env["cloud"].context.flush_pending(10)


def now_ms() -> int:
    return int(time.time() * 1000)


def test_kinesis_gets_the_control_message_then_gzip_data_messages(env):
    logs, kinesis = env["logs"], env["kinesis"]
    arn = make_stream(kinesis, "errors-stream")
    group_with_stream(logs, "/sub/kinesis")
    logs.put_subscription_filter(logGroupName="/sub/kinesis", filterName="errors", filterPattern="ERROR",
                                 destinationArn=arn, roleArn=env["role"])
    t = now_ms()
    events = [{"timestamp": t, "message": "ERROR db down"}, {"timestamp": t + 1, "message": "INFO ok"},
              {"timestamp": t + 2, "message": "ERROR again"}]
    logs.put_log_events(logGroupName="/sub/kinesis", logStreamName="web-1", logEvents=events)
    flush(env)
    got = records(kinesis, "errors-stream")
    assert len(got) == 2
    control_key, control = got[0]
    assert control["messageType"] == "CONTROL_MESSAGE" and control["owner"] == "CloudwatchLogs"
    assert control["logEvents"][0]["message"] == "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."
    key, data = got[1]
    assert key == "web-1"                                   # ByLogStream (the default): the stream is the key
    assert {k: v for k, v in data.items() if k != "logEvents"} == {
        "messageType": "DATA_MESSAGE", "owner": ACCOUNT, "logGroup": "/sub/kinesis", "logStream": "web-1",
        "subscriptionFilters": ["errors"]}
    assert [(e["timestamp"], e["message"]) for e in data["logEvents"]] == [(t, "ERROR db down"),
                                                                          (t + 2, "ERROR again")]
    ids = [e["id"] for e in data["logEvents"]]
    assert all(len(i) == 56 and i.isdigit() for i in ids) and ids == sorted(ids)
    described = logs.describe_subscription_filters(logGroupName="/sub/kinesis")["subscriptionFilters"]
    assert [(f["filterName"], f["filterPattern"], f["destinationArn"], f["roleArn"], f["distribution"])
            for f in described] == [("errors", "ERROR", arn, env["role"], "ByLogStream")]


def test_random_distribution_and_json_patterns_and_other_stand_ins_deliveries(env):
    logs, kinesis = env["logs"], env["kinesis"]
    arn = make_stream(kinesis, "random-stream")
    group_with_stream(logs, "/sub/random")
    logs.put_subscription_filter(logGroupName="/sub/random", filterName="slow", filterPattern="{ $.ms > 100 }",
                                 destinationArn=arn, roleArn=env["role"], distribution="Random")
    t = now_ms()
    logs.put_log_events(logGroupName="/sub/random", logStreamName="web-1", logEvents=[
        {"timestamp": t, "message": json.dumps({"ms": 250})}, {"timestamp": t + 1, "message": json.dumps({"ms": 5})}])
    # events stored by another stand-in (Logs.deliver, as CloudTrail and X-Ray use it) go through the filters too
    env["cloud"].component("logs").deliver("/sub/random", "from-trail", [{"timestamp": t + 5,
                                                                          "message": json.dumps({"ms": 101})}])
    flush(env)
    data = records(kinesis, "random-stream")[1:]
    assert [(d["logStream"], [e["message"] for e in d["logEvents"]]) for _, d in data] == [
        ("web-1", ['{"ms": 250}']), ("from-trail", ['{"ms": 101}'])]
    assert all(key not in ("web-1", "from-trail") and len(key) == 32 for key, _ in data)   # random keys


def test_firehose_delivery_lands_in_its_bucket(env):
    logs = env["logs"]
    s3, firehose = boto3.client("s3"), boto3.client("firehose")
    s3.create_bucket(Bucket="firehose-landing")
    arn = firehose.create_delivery_stream(
        DeliveryStreamName="to-s3", ExtendedS3DestinationConfiguration={
            "RoleARN": env["role"], "BucketARN": "arn:aws:s3:::firehose-landing", "Prefix": "logs/"})[
        "DeliveryStreamARN"]
    group_with_stream(logs, "/sub/firehose")
    logs.put_subscription_filter(logGroupName="/sub/firehose", filterName="all", filterPattern="",
                                 destinationArn=arn, roleArn=env["role"])
    t = now_ms()
    logs.put_log_events(logGroupName="/sub/firehose", logStreamName="web-1",
                        logEvents=[{"timestamp": t, "message": "hello firehose"}])
    flush(env)
    bodies = [s3.get_object(Bucket="firehose-landing", Key=o["Key"])["Body"].read()
              for o in s3.list_objects_v2(Bucket="firehose-landing")["Contents"]]
    documents = [json.loads(gzip.decompress(b)) for b in bodies]
    kinds = sorted(d["messageType"] for d in documents)
    assert kinds == ["CONTROL_MESSAGE", "DATA_MESSAGE"]
    data = next(d for d in documents if d["messageType"] == "DATA_MESSAGE")
    assert data["logEvents"][0]["message"] == "hello firehose" and data["logGroup"] == "/sub/firehose"


def test_lambda_target_is_invoked_with_the_awslogs_event(env):
    logs = env["logs"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return event\n")
    fn = boto3.client("lambda").create_function(FunctionName="log-processor", Runtime="python3.11",
                                                Role=env["role"], Handler="handler.handler",
                                                Code={"ZipFile": buf.getvalue()})["FunctionArn"]
    group_with_stream(logs, "/sub/lambda")
    logs.put_subscription_filter(logGroupName="/sub/lambda", filterName="to-fn", filterPattern="WARN",
                                 destinationArn=fn)          # no roleArn for Lambda, as on AWS
    logs.put_log_events(logGroupName="/sub/lambda", logStreamName="web-1",
                        logEvents=[{"timestamp": now_ms(), "message": "WARN disk 91%"}])
    flush(env)
    payloads = env["cloud"].component("logs").control("subscriptions", {})["lambda_payloads"]
    assert [(p["logGroup"], p["logEvents"][0]["message"]) for p in payloads] == [("/sub/lambda", "WARN disk 91%")]
    # what the function receives: {"awslogs": {"data": base64(gzip(json))}}
    from lab_app.localcloud.logs.subscriptions import gzip_json
    event = {"awslogs": {"data": base64.b64encode(gzip_json(payloads[0])).decode()}}
    assert json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"]))) == payloads[0]


def test_large_batches_split_into_records_under_a_megabyte_and_metrics(env):
    logs, kinesis = env["logs"], env["kinesis"]
    arn = make_stream(kinesis, "big-stream")
    group_with_stream(logs, "/sub/big")
    logs.put_subscription_filter(logGroupName="/sub/big", filterName="all", filterPattern="", destinationArn=arn,
                                 roleArn=env["role"])
    t = now_ms()
    big = [{"timestamp": t + i, "message": os.urandom(350_000).hex()} for i in range(3)]   # ~385 KB gzip each
    env["cloud"].component("logs").deliver("/sub/big", "bulk", big)
    flush(env)
    data = [d for _, d in records(kinesis, "big-stream") if d["messageType"] == "DATA_MESSAGE"]
    # halving: [e0] then [e1, e2] (together about 770 KB compressed)
    assert [[e["timestamp"] for e in d["logEvents"]] for d in data] == [[t], [t + 1, t + 2]]
    iterator = kinesis.get_shard_iterator(StreamName="big-stream", ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert all(len(r["Data"]) <= 1_000_000 for r in kinesis.get_records(ShardIterator=iterator)["Records"])
    cloudwatch = boto3.client("cloudwatch")
    dims = [{"Name": "LogGroupName", "Value": "/sub/big"}, {"Name": "DestinationType", "Value": "Kinesis"},
            {"Name": "FilterName", "Value": "all"}]
    stats = cloudwatch.get_metric_statistics(
        Namespace="AWS/Logs", MetricName="ForwardedLogEvents", Dimensions=dims, Statistics=["Sum"], Period=60,
        StartTime=datetime.fromtimestamp(t / 1000 - 600, tz=timezone.utc),
        EndTime=datetime.fromtimestamp(t / 1000 + 600, tz=timezone.utc))["Datapoints"]
    assert sum(p["Sum"] for p in stats) == 3


def test_two_filters_per_group_and_updates_and_delete(env):
    logs, kinesis = env["logs"], env["kinesis"]
    arn = make_stream(kinesis, "limit-stream")
    group_with_stream(logs, "/sub/limit")
    for name in ("a", "b"):
        logs.put_subscription_filter(logGroupName="/sub/limit", filterName=name, filterPattern="x",
                                     destinationArn=arn, roleArn=env["role"])
    with pytest.raises(ClientError) as err:
        logs.put_subscription_filter(logGroupName="/sub/limit", filterName="c", filterPattern="x",
                                     destinationArn=arn, roleArn=env["role"])
    assert err.value.response["Error"]["Code"] == "LimitExceededException"
    created = logs.describe_subscription_filters(logGroupName="/sub/limit")["subscriptionFilters"][0]["creationTime"]
    logs.put_subscription_filter(logGroupName="/sub/limit", filterName="a", filterPattern="y", destinationArn=arn,
                                 roleArn=env["role"])         # an update, not a third filter
    page = logs.describe_subscription_filters(logGroupName="/sub/limit", filterNamePrefix="a")["subscriptionFilters"]
    assert [(f["filterName"], f["filterPattern"], f["creationTime"]) for f in page] == [("a", "y", created)]
    first = logs.describe_subscription_filters(logGroupName="/sub/limit", limit=1)
    second = logs.describe_subscription_filters(logGroupName="/sub/limit", limit=1, nextToken=first["nextToken"])
    assert [f["filterName"] for f in first["subscriptionFilters"] + second["subscriptionFilters"]] == ["a", "b"]
    assert "nextToken" not in second
    logs.delete_subscription_filter(logGroupName="/sub/limit", filterName="a")
    assert [f["filterName"] for f in logs.describe_subscription_filters(
        logGroupName="/sub/limit")["subscriptionFilters"]] == ["b"]
    logs.delete_log_group(logGroupName="/sub/limit")           # its filters go with it
    group_with_stream(logs, "/sub/limit")
    assert logs.describe_subscription_filters(logGroupName="/sub/limit")["subscriptionFilters"] == []


BAD = [
    ("no group", {"logGroupName": "/sub/none"}, "ResourceNotFoundException"),
    ("bad pattern", {"filterPattern": "{ $.x = "}, "InvalidParameterException"),
    ("unsupported target", {"destinationArn": "arn:aws:sqs:us-east-1:123456789012:q"}, "InvalidParameterException"),
    ("not an ARN", {"destinationArn": "my-stream"}, "InvalidParameterException"),
    ("missing stream", {"destinationArn": "arn:aws:kinesis:us-east-1:123456789012:stream/nope"},
     "InvalidParameterException"),
    ("no role for Kinesis", {"roleArn": None}, "InvalidParameterException"),
    ("unknown role", {"roleArn": "arn:aws:iam::123456789012:role/ghost"}, "InvalidParameterException"),
    ("missing destination", {"destinationArn": "arn:aws:logs:us-east-1:123456789012:destination:ghost"},
     "ResourceNotFoundException"),
    ("bad distribution", {"distribution": "RoundRobin"}, "InvalidParameterException"),
    ("name with colon", {"filterName": "a:b"}, "InvalidParameterException"),
    ("transformed events (not modelled)", {"applyOnTransformedLogs": True}, "InvalidParameterException"),
    ("system fields (not modelled)", {"emitSystemFields": ["@aws.region"]}, "InvalidParameterException"),
]


@pytest.mark.parametrize("case,change,code", BAD, ids=[b[0] for b in BAD])
def test_put_subscription_filter_bad_input(env, case, change, code):
    logs, kinesis = env["logs"], env["kinesis"]
    if "/sub/bad" not in [g["logGroupName"] for g in logs.describe_log_groups(
            logGroupNamePrefix="/sub/bad")["logGroups"]]:
        group_with_stream(logs, "/sub/bad")
        make_stream(kinesis, "bad-stream")
    request = {"logGroupName": "/sub/bad", "filterName": "f", "filterPattern": "",
               "destinationArn": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/bad-stream", "roleArn": env["role"],
               **change}
    request = {k: v for k, v in request.items() if v is not None}
    with pytest.raises(ClientError) as err:
        logs.put_subscription_filter(**request)
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_delete_and_describe_errors(env):
    logs = env["logs"]
    group_with_stream(logs, "/sub/errors")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_subscription_filter(logGroupName="/sub/errors", filterName="nope")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_subscription_filters(logGroupName="/sub/missing-group")


def test_a_deleted_target_counts_failures_and_ingest_keeps_working(env):
    logs, kinesis = env["logs"], env["kinesis"]
    arn = make_stream(kinesis, "doomed-stream")
    group_with_stream(logs, "/sub/doomed")
    logs.put_subscription_filter(logGroupName="/sub/doomed", filterName="all", filterPattern="",
                                 destinationArn=arn, roleArn=env["role"])
    kinesis.delete_stream(StreamName="doomed-stream")
    before = env["cloud"].component("logs").control("subscriptions", {})["subscription_delivery_failures"]
    for i in range(3):
        logs.put_log_events(logGroupName="/sub/doomed", logStreamName="web-1",
                            logEvents=[{"timestamp": now_ms(), "message": f"still stored {i}"}])
    status = env["cloud"].component("logs").control("subscriptions", {})
    assert status["subscription_delivery_failures"] - before == 3
    assert "/sub/doomed/all" in status["errors"]
    got = logs.filter_log_events(logGroupName="/sub/doomed")["events"]
    assert [e["message"] for e in got] == ["still stored 0", "still stored 1", "still stored 2"]


def test_destinations_crud_policy_and_delivery_through_a_destination(env):
    logs, kinesis = env["logs"], env["kinesis"]
    target = make_stream(kinesis, "central-stream")
    made = logs.put_destination(destinationName="central", targetArn=target, roleArn=env["role"],
                                tags={"team": "platform"})["destination"]
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:destination:central"
    logs.tag_resource(resourceArn=arn, tags={"env": "lab"})
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "lab"}
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.list_tags_for_resource(resourceArn=arn + "-missing")
    assert (made["destinationName"], made["targetArn"], made["roleArn"], made["arn"]) == (
        "central", target, env["role"], arn)
    for name in ("central-2", "other"):
        logs.put_destination(destinationName=name, targetArn=target, roleArn=env["role"])
    first = logs.describe_destinations(DestinationNamePrefix="central", limit=1)
    second = logs.describe_destinations(DestinationNamePrefix="central", limit=1, nextToken=first["nextToken"])
    assert [d["destinationName"] for d in first["destinations"] + second["destinations"]] == ["central", "central-2"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "logs:PutSubscriptionFilter",
        "Resource": arn}]})
    logs.put_destination_policy(destinationName="central", accessPolicy=policy)
    assert logs.describe_destinations(DestinationNamePrefix="central")["destinations"][0]["accessPolicy"] == policy
    group_with_stream(logs, "/sub/dest")
    logs.put_subscription_filter(logGroupName="/sub/dest", filterName="fwd", filterPattern="", destinationArn=arn)
    logs.put_log_events(logGroupName="/sub/dest", logStreamName="web-1",
                        logEvents=[{"timestamp": now_ms(), "message": "to the central account"}])
    flush(env)
    data = [d for _, d in records(kinesis, "central-stream") if d["messageType"] == "DATA_MESSAGE"]
    assert [(d["logGroup"], d["subscriptionFilters"], d["logEvents"][0]["message"]) for d in data] == [
        ("/sub/dest", ["fwd"], "to the central account")]
    logs.delete_destination(destinationName="other")
    assert [d["destinationName"] for d in logs.describe_destinations()["destinations"]] == ["central", "central-2"]


DEST_BAD = [
    ("policy not JSON", "put_destination_policy", {"destinationName": "central", "accessPolicy": "{nope"},
     "InvalidParameterException"),
    ("policy without statements", "put_destination_policy", {"destinationName": "central", "accessPolicy": "{}"},
     "InvalidParameterException"),
    ("policy for a missing destination", "put_destination_policy", {
        "destinationName": "ghost", "accessPolicy": json.dumps({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "1"}, "Action": "logs:PutSubscriptionFilter"}]})},
     "ResourceNotFoundException"),
    ("delete a missing destination", "delete_destination", {"destinationName": "ghost"}, "ResourceNotFoundException"),
    ("target is not a stream", "put_destination", {"destinationName": "d", "targetArn": "arn:aws:sqs:us-east-1:1:q",
                                                   "roleArn": "arn:aws:iam::123456789012:role/cwl-to-kinesis"},
     "InvalidParameterException"),
    ("target stream missing", "put_destination", {
        "destinationName": "d", "targetArn": "arn:aws:kinesis:us-east-1:123456789012:stream/none",
        "roleArn": "arn:aws:iam::123456789012:role/cwl-to-kinesis"}, "InvalidParameterException"),
    ("limit out of range", "describe_destinations", {"limit": 51}, "InvalidParameterException"),
]


@pytest.mark.parametrize("case,method,request_,code", DEST_BAD, ids=[b[0] for b in DEST_BAD])
def test_destination_bad_input(env, case, method, request_, code):
    logs = env["logs"]
    if not logs.describe_destinations(DestinationNamePrefix="central")["destinations"]:
        target = make_stream(env["kinesis"], "central-stream-2")
        logs.put_destination(destinationName="central", targetArn=target, roleArn=env["role"])
    with pytest.raises(ClientError) as err:
        getattr(logs, method)(**request_)
    assert err.value.response["Error"]["Code"] == code


def test_reset_forgets_filters_and_destinations(env):
    logs, kinesis = env["logs"], env["kinesis"]
    arn = make_stream(kinesis, "reset-stream")
    group_with_stream(logs, "/sub/reset")
    logs.put_subscription_filter(logGroupName="/sub/reset", filterName="f", filterPattern="", destinationArn=arn,
                                 roleArn=env["role"])
    logs.put_destination(destinationName="reset-dest", targetArn=arn, roleArn=env["role"])
    component = env["cloud"].component("logs")
    assert component.status()["subscription_filters"] >= 1
    env["cloud"].reset()              # the stand-ins' part of POST /moto-api/reset (moto's backends stay here)
    assert component.status()["subscription_filters"] == 0
    assert logs.describe_destinations()["destinations"] == []
    assert logs.describe_log_groups(logGroupNamePrefix="/sub/")["logGroups"] == []


def test_awscli_put_and_describe_subscription_filter(env, tmp_path):
    logs, kinesis = env["logs"], env["kinesis"]
    arn = make_stream(kinesis, "cli-stream")
    group_with_stream(logs, "/sub/cli")
    base = [str(AWS_CLI), "logs", "--output", "json"]
    done = subprocess.run(base + ["put-subscription-filter", "--log-group-name", "/sub/cli", "--filter-name", "cli",
                                  "--filter-pattern", "ERROR", "--destination-arn", arn, "--role-arn", env["role"]],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = subprocess.run(base + ["describe-subscription-filters", "--log-group-name", "/sub/cli"],
                         capture_output=True, text=True, timeout=60)
    assert [f["filterName"] for f in json.loads(out.stdout)["subscriptionFilters"]] == ["cli"]
    bad = subprocess.run(base + ["put-subscription-filter", "--log-group-name", "/sub/cli", "--filter-name", "x",
                                 "--filter-pattern", "", "--destination-arn", arn.replace("cli-stream", "nope"),
                                 "--role-arn", env["role"]], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "InvalidParameterException" in bad.stderr


def test_the_delivery_queue_is_bounded_and_a_stuck_delivery_drops_what_does_not_fit(env, monkeypatch):
    """Ingest never queues without bound: past MAX_PENDING_EVENTS it waits for the deliverer (back-pressure), and
    when delivery is stuck longer than PENDING_WAIT_S the batch is dropped, logged and counted in status."""
    import threading

    from lab_app.localcloud.logs import subscriptions as subs_module

    subs = env["cloud"].component("logs").subscriptions
    monkeypatch.setattr(subs_module, "MAX_PENDING_EVENTS", 10)
    monkeypatch.setattr(subs_module, "PENDING_WAIT_S", 0.3)
    release, entered = threading.Event(), threading.Event()

    def stuck(*args):
        entered.set()
        release.wait(10)

    monkeypatch.setattr(subs, "_deliver", stuck)
    monkeypatch.setitem(subs._cache, ("us-east-1", "bounded"), [])
    try:
        subs.stored("us-east-1", "bounded", "s", [1], [1], ["first"])     # taken by the (now stuck) deliverer
        assert entered.wait(5)
        subs.stored("us-east-1", "bounded", "s", list(range(8)), list(range(8)), ["x"] * 8)   # queued: 8 <= 10
        started = time.monotonic()
        subs.stored("us-east-1", "bounded", "s", list(range(5)), list(range(5)), ["y"] * 5)   # 13 > 10: waits
        waited = time.monotonic() - started
        assert 0.25 <= waited < 2, waited
        assert subs.dropped_events == 5 and subs._pending_events == 8
        assert subs.status()["subscription_events_dropped"] == 5
    finally:
        release.set()
    assert subs.drain(5)
    assert subs._pending_events == 0
    subs.dropped_events = 0
