"""Export tasks to S3 (moto): the object layout and gzip text lines built by hand, the status lifecycle, the
one-active-task limit, cancelling, bad input; plus the awscli commands."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

AWS_CLI = Path(sys.executable).with_name("aws")
BUCKET = "exported-logs-lab"


@pytest.fixture(scope="module")
def env(module_cloud):
    logs, s3 = boto3.client("logs"), boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    logs.create_log_group(logGroupName="/exp/app")
    for stream in ("web-1", "web-2", "worker"):
        logs.create_log_stream(logGroupName="/exp/app", logStreamName=stream)
    return {"logs": logs, "s3": s3}


def wait_done(logs, task_id: str, timeout: float = 20) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        task = logs.describe_export_tasks(taskId=task_id)["exportTasks"][0]
        if task["status"]["code"] not in ("PENDING", "RUNNING", "PENDING_CANCEL"):
            return task
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} still active")


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def test_export_writes_the_documented_layout_and_lines(env):
    logs, s3 = env["logs"], env["s3"]
    t0 = int(time.time() * 1000) - 60_000
    logs.put_log_events(logGroupName="/exp/app", logStreamName="web-1", logEvents=[
        {"timestamp": t0 - 1, "message": "before the range"}, {"timestamp": t0, "message": "first"},
        {"timestamp": t0 + 10, "message": "second"}])
    logs.put_log_events(logGroupName="/exp/app", logStreamName="web-2", logEvents=[
        {"timestamp": t0 + 20, "message": "other stream"}, {"timestamp": t0 + 31, "message": "after the range"}])
    logs.put_log_events(logGroupName="/exp/app", logStreamName="worker", logEvents=[
        {"timestamp": t0 + 5, "message": "not web"}])
    task_id = logs.create_export_task(taskName="web", logGroupName="/exp/app", logStreamNamePrefix="web",
                                      fromTime=t0, to=t0 + 30, destination=BUCKET,
                                      destinationPrefix="cruddur")["taskId"]
    first = logs.describe_export_tasks(taskId=task_id)["exportTasks"][0]
    assert first["status"]["code"] == "PENDING" and "completionTime" not in first["executionInfo"]
    task = wait_done(logs, task_id)
    assert task["status"] == {"code": "COMPLETED", "message": "Completed successfully"}
    assert (task["taskName"], task["logGroupName"], task["from"], task["to"], task["destination"],
            task["destinationPrefix"]) == ("web", "/exp/app", t0, t0 + 30, BUCKET, "cruddur")
    assert task["executionInfo"]["completionTime"] >= task["executionInfo"]["creationTime"]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="cruddur/")["Contents"])
    assert keys == sorted(["cruddur/aws-logs-write-test", f"cruddur/{task_id}/web-1/000000.gz",
                           f"cruddur/{task_id}/web-2/000000.gz"])
    assert s3.get_object(Bucket=BUCKET, Key="cruddur/aws-logs-write-test")["Body"].read() == \
        b"Permission Check Successful"
    web1 = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=f"cruddur/{task_id}/web-1/000000.gz")["Body"].read())
    assert web1.decode() == f"{iso(t0)} first\n{iso(t0 + 10)} second\n"
    web2 = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=f"cruddur/{task_id}/web-2/000000.gz")["Body"].read())
    assert web2.decode() == f"{iso(t0 + 20)} other stream\n"


def test_a_large_stream_is_split_into_numbered_objects(env, monkeypatch):
    from lab_app.localcloud.logs import exports

    logs, s3 = env["logs"], env["s3"]
    logs.create_log_group(logGroupName="/exp/big")
    logs.create_log_stream(logGroupName="/exp/big", logStreamName="s")
    t0 = int(time.time() * 1000) - 10_000
    logs.put_log_events(logGroupName="/exp/big", logStreamName="s",
                        logEvents=[{"timestamp": t0 + i, "message": f"line {i:03d}"} for i in range(10)])
    line = len(f"{iso(t0)} line 000\n")                 # every line has the same length
    monkeypatch.setattr(exports, "OBJECT_BYTES", 4 * line)
    task_id = logs.create_export_task(logGroupName="/exp/big", fromTime=t0, to=t0 + 100, destination=BUCKET,
                                      destinationPrefix="big")["taskId"]
    assert wait_done(logs, task_id)["status"]["code"] == "COMPLETED"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"big/{task_id}/")["Contents"])
    assert keys == [f"big/{task_id}/s/00000{n}.gz" for n in range(3)]      # 4 + 4 + 2 lines
    texts = [gzip.decompress(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read()).decode() for k in keys]
    assert [t.count("\n") for t in texts] == [4, 4, 2]
    assert "".join(texts) == "".join(f"{iso(t0 + i)} line {i:03d}\n" for i in range(10))


def test_one_active_task_cancel_and_filters(env):
    logs = env["logs"]
    now = int(time.time() * 1000)
    task_id = logs.create_export_task(logGroupName="/exp/app", fromTime=0, to=now, destination=BUCKET)["taskId"]
    with pytest.raises(ClientError) as err:                 # AWS: one active (pending or running) task per account
        logs.create_export_task(logGroupName="/exp/app", fromTime=0, to=now, destination=BUCKET)
    assert err.value.response["Error"]["Code"] == "LimitExceededException"
    logs.cancel_export_task(taskId=task_id)
    task = logs.describe_export_tasks(taskId=task_id)["exportTasks"][0]
    assert task["status"]["code"] == "CANCELLED" and task["destinationPrefix"] == "exportedlogs"
    with pytest.raises(ClientError) as err:
        logs.cancel_export_task(taskId=task_id)
    assert err.value.response["Error"]["Code"] == "InvalidOperationException"
    time.sleep(1.5)                                         # past the pending time: a cancelled task never runs
    assert logs.describe_export_tasks(taskId=task_id)["exportTasks"][0]["status"]["code"] == "CANCELLED"
    done = wait_done(logs, logs.create_export_task(logGroupName="/exp/app", fromTime=0, to=now,
                                                   destination=BUCKET)["taskId"])
    assert done["status"]["code"] == "COMPLETED"
    cancelled = logs.describe_export_tasks(statusCode="CANCELLED")["exportTasks"]
    assert [t["taskId"] for t in cancelled] == [task_id]
    everything = logs.describe_export_tasks()["exportTasks"]
    pages, token = [], None
    while True:
        page = logs.describe_export_tasks(limit=1, **({"nextToken": token} if token else {}))
        pages += page["exportTasks"]
        token = page.get("nextToken")
        if not token:
            break
    assert [t["taskId"] for t in pages] == [t["taskId"] for t in everything] and len(pages) >= 3


BAD = [
    ("missing bucket", {"destination": "no-such-bucket-here"}, "InvalidParameterException",
     "The given bucket does not exist. Please make sure the bucket is valid."),
    ("missing group", {"logGroupName": "/exp/none"}, "ResourceNotFoundException", None),
    ("from after to", {"fromTime": 10, "to": 5}, "InvalidParameterException", None),
]


@pytest.mark.parametrize("case,change,code,message", BAD, ids=[b[0] for b in BAD])
def test_create_export_task_bad_input(env, case, change, code, message):
    request = {"logGroupName": "/exp/app", "fromTime": 0, "to": 10, "destination": BUCKET, **change}
    with pytest.raises(ClientError) as err:
        env["logs"].create_export_task(**request)
    assert err.value.response["Error"]["Code"] == code
    if message:
        assert err.value.response["Error"]["Message"] == message


def test_describe_and_cancel_bad_input(env):
    logs = env["logs"]
    assert logs.describe_export_tasks(taskId="00000000-0000-0000-0000-000000000000")["exportTasks"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.cancel_export_task(taskId="00000000-0000-0000-0000-000000000000")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_export_tasks(statusCode="DONE")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_export_tasks(limit=51)


def test_awscli_create_and_describe_export_task(env):
    base = [str(AWS_CLI), "logs", "--output", "json"]
    created = subprocess.run(base + ["create-export-task", "--log-group-name", "/exp/app", "--from", "0", "--to",
                                     str(int(time.time() * 1000)), "--destination", BUCKET,
                                     "--destination-prefix", "cli"], capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    task_id = json.loads(created.stdout)["taskId"]
    wait_done(env["logs"], task_id)
    described = subprocess.run(base + ["describe-export-tasks", "--task-id", task_id], capture_output=True,
                               text=True, timeout=60)
    assert json.loads(described.stdout)["exportTasks"][0]["status"]["code"] == "COMPLETED"
    bad = subprocess.run(base + ["create-export-task", "--log-group-name", "/exp/app", "--from", "0", "--to", "1",
                                 "--destination", "no-such-bucket-here"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "InvalidParameterException" in bad.stderr
