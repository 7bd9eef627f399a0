"""Fuzz: the security stand-ins' AWS operations (CloudTrail, GuardDuty, Security Hub; each family at least 2,000
generated inputs, signed as boto3 signs them) and hostile SigV4 headers over HTTP. No 5xx, no request over 2 s,
and a known-good round trip answers correctly afterwards (tests/fuzz_support.py)."""
from __future__ import annotations

import uuid

import boto3
import pytest
from fuzz_support import EXAMPLES, HttpWire, Inputs, fuzz, fuzz_service, known_resources

from lab_app import config

_known = pytest.fixture(scope="module", name="known")(known_resources)


def test_cloudtrail(module_cloud, known):
    fuzz_service(module_cloud, known, "cloudtrail", ["LookupEvents"])
    found = boto3.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "PutRule"}], MaxResults=5)["Events"]
    assert found and all(e["EventName"] == "PutRule" for e in found)


def test_guardduty(module_cloud, known):
    fuzz_service(module_cloud, known, "guardduty")
    guardduty = boto3.client("guardduty")
    detector = guardduty.create_detector(Enable=True)["DetectorId"] if not guardduty.list_detectors()[
        "DetectorIds"] else guardduty.list_detectors()["DetectorIds"][0]   # the fuzz may have deleted it
    guardduty.create_sample_findings(DetectorId=detector, FindingTypes=["Recon:EC2/PortProbeUnprotectedPort"])
    found = guardduty.list_findings(DetectorId=detector, FindingCriteria={"Criterion": {
        "type": {"Eq": ["Recon:EC2/PortProbeUnprotectedPort"]}}})["FindingIds"]
    assert found


def test_securityhub(module_cloud, known):
    fuzz_service(module_cloud, known, "securityhub")
    hub = boto3.client("securityhub")
    try:
        hub.enable_security_hub()
    except hub.exceptions.ResourceConflictException:
        pass
    assert hub.describe_hub()["HubArn"].startswith("arn:aws:securityhub:")


UNKNOWN_KEY = "AKIAFUZZFUZZFUZZFUZZ"  # pragma: allowlist secret (a made-up key id the local cloud does not know)
AUTH_PARTS = ["AWS4-HMAC-SHA256", "Credential=", config.LOCAL_AWS_ACCESS_KEY_ID, UNKNOWN_KEY, "/", "20261202",
              "us-east-1", "logs", "xray", "guardduty", "aws4_request", ",", " ", "SignedHeaders=", "host;x-amz-date",
              "Signature=", "0" * 64, "=", "AWS ", "Bearer x", "\u00e9"]
TARGETS = [("POST", "/", {"X-Amz-Target": "Logs_20140328.DescribeLogGroups", "Content-Type": "application/x-amz-json-1.1"},
            b"{}"),
           ("POST", "/Groups", {"Content-Type": "application/json"}, b"{}"),
           ("POST", "/v1/traces", {"Content-Type": "application/x-protobuf"}, b""),
           ("GET", "/detector", {}, b""),
           ("POST", "/", {"X-Amz-Target": "AWSEvents.ListRules", "Content-Type": "application/x-amz-json-1.1"}, b"{}"),
           ("POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, b"Action=ListUsers&Version=2010-05-08")]


def test_signatures(module_cloud, known):
    """Hostile Authorization / X-Amz-Date / security-token headers on each stand-in's paths, over HTTP (headers are
    what this family is about): 4xx, never 5xx."""
    inputs = Inputs("sigv4")
    r = inputs.r

    def requests():
        for _ in range(EXAMPLES):
            method, path, headers, body = r.choice(TARGETS)
            authorization = inputs.tokens(AUTH_PARTS, 12).replace("\n", "").replace("\r", "")
            headers = {**headers, "Authorization": authorization.encode("latin-1", "replace").decode("latin-1"),
                       "X-Amz-Date": r.choice(["20261202T000000Z", "", "garbage", "99999999T999999Z",
                                               str(r.randint(0, 10 ** 17))])}
            if r.random() < 0.3:
                headers["X-Amz-Security-Token"] = inputs.text(0, 40).encode("ascii", "replace").decode().replace(
                    "\n", "").replace("\r", "")
            yield method, path, body, headers

    wire = HttpWire(module_cloud.ports["aws"])
    fuzz("sigv4", requests(), lambda item: wire.send(item[0], item[1], item[2], item[3]))
    logs = boto3.client("logs")
    name = f"after-sigv4-fuzz-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name)
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]] == [name]
