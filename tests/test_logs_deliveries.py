"""Vended-log deliveries (sources, destinations, destination policies, deliveries) as validated records:
boto3 against the local cloud, conflicts and missing resources with AWS's error codes."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
LOGS_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:"
DIST = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E1LAB"
GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/vended/cloudfront"


@pytest.fixture(scope="module")
def logs(module_cloud):
    client = boto3.client("logs")
    client.create_log_group(logGroupName="/vended/cloudfront")
    return client


def code(err) -> str:
    return err.value.response["Error"]["Code"]


def test_source_destination_delivery_lifecycle(logs):
    source = logs.put_delivery_source(name="cf-access", resourceArn=DIST, logType="ACCESS_LOGS",
                                      tags={"team": "edge"})["deliverySource"]
    assert source == {"name": "cf-access", "arn": LOGS_ARN + "delivery-source:cf-access", "resourceArns": [DIST],
                      "service": "cloudfront", "logType": "ACCESS_LOGS", "tags": {"team": "edge"},
                      "status": "ACTIVE"}
    assert logs.get_delivery_source(name="cf-access")["deliverySource"] == source
    dest = logs.put_delivery_destination(name="to-group", outputFormat="json", deliveryDestinationConfiguration={
        "destinationResourceArn": GROUP_ARN})["deliveryDestination"]
    assert (dest["arn"], dest["deliveryDestinationType"], dest["outputFormat"],
            dest["deliveryDestinationConfiguration"]["destinationResourceArn"]) == (
        LOGS_ARN + "delivery-destination:to-group", "CWL", "json", GROUP_ARN)
    s3_dest = logs.put_delivery_destination(name="to-bucket", deliveryDestinationConfiguration={
        "destinationResourceArn": "arn:aws:s3:::vended-logs"})["deliveryDestination"]
    assert s3_dest["deliveryDestinationType"] == "S3"
    delivery = logs.create_delivery(deliverySourceName="cf-access", deliveryDestinationArn=dest["arn"],
                                    recordFields=["date", "time", "c-ip"], fieldDelimiter=",")["delivery"]
    assert len(delivery["id"]) == 16 and delivery["id"].isalnum()
    assert (delivery["arn"], delivery["deliveryDestinationType"], delivery["recordFields"]) == (
        LOGS_ARN + "delivery:" + delivery["id"], "CWL", ["date", "time", "c-ip"])
    to_s3 = logs.create_delivery(deliverySourceName="cf-access", deliveryDestinationArn=s3_dest["arn"],
                                 s3DeliveryConfiguration={"suffixPath": "{DistributionId}/{yyyy}",
                                                          "enableHiveCompatiblePath": False})["delivery"]
    logs.update_delivery_configuration(id=delivery["id"], recordFields=["date", "c-ip"])
    assert logs.get_delivery(id=delivery["id"])["delivery"]["recordFields"] == ["date", "c-ip"]
    first = logs.describe_deliveries(limit=1)
    second = logs.describe_deliveries(limit=1, nextToken=first["nextToken"])
    assert [d["id"] for d in first["deliveries"] + second["deliveries"]] == [delivery["id"], to_s3["id"]]
    assert "nextToken" not in second
    assert [d["name"] for d in logs.describe_delivery_destinations()["deliveryDestinations"]] == ["to-bucket",
                                                                                                  "to-group"]
    assert [s["name"] for s in logs.describe_delivery_sources()["deliverySources"]] == ["cf-access"]
    # in use: neither end can go
    with pytest.raises(ClientError) as err:
        logs.delete_delivery_source(name="cf-access")
    assert code(err) == "ConflictException"
    with pytest.raises(ClientError) as err:
        logs.delete_delivery_destination(name="to-group")
    assert code(err) == "ConflictException"
    logs.delete_delivery(id=delivery["id"])
    logs.delete_delivery(id=to_s3["id"])
    logs.delete_delivery_destination(name="to-group")
    logs.delete_delivery_source(name="cf-access")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_delivery(id=delivery["id"])
    assert logs.describe_delivery_sources()["deliverySources"] == []


def test_destination_policy(logs):
    logs.put_delivery_destination(name="shared", deliveryDestinationConfiguration={
        "destinationResourceArn": GROUP_ARN})
    assert logs.get_delivery_destination_policy(deliveryDestinationName="shared")["policy"] == {}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "logs:CreateDelivery",
        "Resource": LOGS_ARN + "delivery-destination:shared"}]})
    assert logs.put_delivery_destination_policy(deliveryDestinationName="shared", deliveryDestinationPolicy=policy)[
        "policy"] == {"deliveryDestinationPolicy": policy}
    logs.put_delivery_destination(name="shared", outputFormat="plain", deliveryDestinationConfiguration={
        "destinationResourceArn": GROUP_ARN})       # an update keeps the policy
    assert logs.get_delivery_destination_policy(deliveryDestinationName="shared")["policy"][
        "deliveryDestinationPolicy"] == policy
    logs.delete_delivery_destination_policy(deliveryDestinationName="shared")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_delivery_destination_policy(deliveryDestinationName="shared")
    for bad in ("{not json", "{}"):
        with pytest.raises(ClientError) as err:
            logs.put_delivery_destination_policy(deliveryDestinationName="shared", deliveryDestinationPolicy=bad)
        assert code(err) == "ValidationException"
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_delivery_destination_policy(deliveryDestinationName="ghost", deliveryDestinationPolicy=policy)
    logs.delete_delivery_destination(name="shared")


BAD = [
    ("second source for the same resource and log type",
     [("put_delivery_source", {"name": "a", "resourceArn": DIST, "logType": "ACCESS_LOGS"})],
     "put_delivery_source", {"name": "b", "resourceArn": DIST, "logType": "ACCESS_LOGS"}, "ConflictException"),
    ("source moved to another resource",
     [("put_delivery_source", {"name": "a", "resourceArn": DIST, "logType": "ACCESS_LOGS"})],
     "put_delivery_source", {"name": "a", "resourceArn": DIST + "2", "logType": "ACCESS_LOGS"},
     "ValidationException"),
    ("tags on an update",
     [("put_delivery_source", {"name": "a", "resourceArn": DIST, "logType": "ACCESS_LOGS"})],
     "put_delivery_source", {"name": "a", "resourceArn": DIST, "logType": "ACCESS_LOGS", "tags": {"k": "v"}},
     "ConflictException"),
    ("source ARN is not an ARN", [], "put_delivery_source", {"name": "a", "resourceArn": "dist", "logType": "X"},
     "ValidationException"),
    ("source name breaks the pattern", [], "put_delivery_source",
     {"name": "a b", "resourceArn": DIST, "logType": "ACCESS_LOGS"}, "ValidationException"),
    ("destination of an unsupported resource", [], "put_delivery_destination",
     {"name": "d", "deliveryDestinationConfiguration": {"destinationResourceArn": "arn:aws:sqs:us-east-1:1:q"}},
     "ValidationException"),
    ("destination type disagrees with the ARN", [], "put_delivery_destination",
     {"name": "d", "deliveryDestinationType": "S3",
      "deliveryDestinationConfiguration": {"destinationResourceArn": GROUP_ARN}}, "ValidationException"),
    ("destination without a resource", [], "put_delivery_destination", {"name": "d"}, "ValidationException"),
    ("destination changes type",
     [("put_delivery_destination", {"name": "d", "deliveryDestinationConfiguration": {
         "destinationResourceArn": GROUP_ARN}})],
     "put_delivery_destination", {"name": "d", "deliveryDestinationConfiguration": {
         "destinationResourceArn": "arn:aws:s3:::other-bucket"}}, "ConflictException"),
    ("delivery from a missing source", [], "create_delivery",
     {"deliverySourceName": "ghost", "deliveryDestinationArn": LOGS_ARN + "delivery-destination:d"},
     "ResourceNotFoundException"),
    ("delivery to a missing destination",
     [("put_delivery_source", {"name": "a", "resourceArn": DIST, "logType": "ACCESS_LOGS"})],
     "create_delivery", {"deliverySourceName": "a", "deliveryDestinationArn": LOGS_ARN + "delivery-destination:d"},
     "ResourceNotFoundException"),
    ("the same delivery twice",
     [("put_delivery_source", {"name": "a", "resourceArn": DIST, "logType": "ACCESS_LOGS"}),
      ("put_delivery_destination", {"name": "d", "deliveryDestinationConfiguration": {
          "destinationResourceArn": GROUP_ARN}}),
      ("create_delivery", {"deliverySourceName": "a", "deliveryDestinationArn": LOGS_ARN + "delivery-destination:d"})],
     "create_delivery", {"deliverySourceName": "a", "deliveryDestinationArn": LOGS_ARN + "delivery-destination:d"},
     "ConflictException"),
    ("S3 settings for a log-group delivery",
     [("put_delivery_source", {"name": "a", "resourceArn": DIST, "logType": "ACCESS_LOGS"}),
      ("put_delivery_destination", {"name": "d", "deliveryDestinationConfiguration": {
          "destinationResourceArn": GROUP_ARN}})],
     "create_delivery", {"deliverySourceName": "a", "deliveryDestinationArn": LOGS_ARN + "delivery-destination:d",
                         "s3DeliveryConfiguration": {"suffixPath": "x"}}, "ValidationException"),
    ("update a missing delivery", [], "update_delivery_configuration", {"id": "abc123", "recordFields": ["date"]},
     "ResourceNotFoundException"),
    ("delete a missing source", [], "delete_delivery_source", {"name": "ghost"}, "ResourceNotFoundException"),
    ("get a missing destination", [], "get_delivery_destination", {"name": "ghost"}, "ResourceNotFoundException"),
    ("limit out of range", [], "describe_deliveries", {"limit": 51}, "ValidationException"),
    ("a token we never issued", [], "describe_delivery_sources", {"nextToken": "nope"}, "ValidationException"),
]


def wipe(logs) -> None:
    for d in logs.describe_deliveries()["deliveries"]:
        logs.delete_delivery(id=d["id"])
    for d in logs.describe_delivery_destinations()["deliveryDestinations"]:
        logs.delete_delivery_destination(name=d["name"])
    for s in logs.describe_delivery_sources()["deliverySources"]:
        logs.delete_delivery_source(name=s["name"])


@pytest.mark.parametrize("case,setup,method,request_,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_input(logs, case, setup, method, request_, expected):
    wipe(logs)
    for m, r in setup:
        getattr(logs, m)(**r)
    with pytest.raises(ClientError) as err:
        getattr(logs, method)(**request_)
    assert code(err) == expected
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    wipe(logs)
