"""Security Hub in the local cloud, driven with boto3: the hub, GuardDuty findings arriving in ASFF,
BatchImportFindings (with FailedFindings for findings that break ASFF), GetFindings filters (one row per case over
five findings, each row discriminating), BatchUpdateFindings, and "Security Hub Findings - Imported" events."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.aws_raw import signed_raw

REGION = "eu-central-1"
ACCOUNT = "123456789012"
OWN_PRODUCT = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
GD_PRODUCT = f"arn:aws:securityhub:{REGION}::product/aws/guardduty"
TYPES = {"ssh": "UnauthorizedAccess:EC2/SSHBruteForce", "malicious": "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
         "exfil": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _own(finding_id: str, **fields) -> dict:
    finding = {"SchemaVersion": "2018-10-08", "Id": finding_id, "ProductArn": OWN_PRODUCT,
               "GeneratorId": "cruddur-checks", "AwsAccountId": ACCOUNT,
               "Types": ["Software and Configuration Checks/Vulnerabilities/CVE"], "CreatedAt": _now(),
               "UpdatedAt": _now(), "Severity": {"Label": "LOW"}, "Title": "t", "Description": "d",
               "Resources": [{"Type": "Other", "Id": "cruddur"}]}
    finding.update(fields)
    return finding


def _client(name: str, validate: bool = True):
    return boto3.client(name, region_name=REGION, config=Config(parameter_validation=validate))


@pytest.fixture(scope="module")
def hub(module_cloud):
    """Security Hub on in REGION, a rule for high-severity GuardDuty imports into a queue, three GuardDuty sample
    findings (imported by the integration) and two of our own imported with BatchImportFindings."""
    sh, gd, events, sqs = (_client(s) for s in ("securityhub", "guardduty", "events", "sqs"))
    sh.enable_security_hub()
    url = sqs.create_queue(QueueName="hub-imports")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="hub-high", EventPattern=json.dumps({
        "source": ["aws.securityhub"], "detail-type": ["Security Hub Findings - Imported"],
        "detail": {"findings": {"ProductName": ["GuardDuty"], "Severity": {"Label": ["HIGH"]}}}}))
    events.put_targets(Rule="hub-high", Targets=[{"Id": "q", "Arn": arn}])
    detector = gd.create_detector(Enable=True)["DetectorId"]
    gd.create_sample_findings(DetectorId=detector, FindingTypes=list(TYPES.values()))
    gd_findings = gd.get_findings(DetectorId=detector, FindingIds=gd.list_findings(DetectorId=detector)["FindingIds"])
    arns = {name: next(f["Arn"] for f in gd_findings["Findings"] if f["Type"] == t) for name, t in TYPES.items()}
    imported = sh.batch_import_findings(Findings=[
        _own("cruddur/admin-api", Title="Cruddur admin API exposed", Severity={"Label": "CRITICAL"},
             Resources=[{"Type": "AwsEc2Instance", "Id": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-cruddur"}],
             UserDefinedFields={"team": "cruddur"}, CreatedAt="2020-01-01T00:00:00.000Z"),
        _own("cruddur/log-group", Title="Cruddur log group unencrypted", Severity={"Label": "INFORMATIONAL"},
             Resources=[{"Type": "AwsLogsLogGroup", "Id": "cruddur"}]),
    ])
    ids = {**arns, "admin": "cruddur/admin-api", "logs": "cruddur/log-group"}
    return {"sh": sh, "gd": gd, "sqs": sqs, "queue": url, "detector": detector, "ids": ids, "imported": imported,
            "gd_findings": {f["Type"]: f for f in gd_findings["Findings"]}}


def _names(hub, filters: dict) -> set[str]:
    by_id = {v: k for k, v in hub["ids"].items()}
    found = []
    for page in hub["sh"].get_paginator("get_findings").paginate(Filters=filters):
        found += page["Findings"]
    return {by_id[f["Id"]] for f in found}


# --- the hub ----------------------------------------------------------------------------------------------
def test_hub_lifecycle(module_cloud):
    sh = boto3.client("securityhub", region_name="sa-east-1")
    with pytest.raises(ClientError) as err:
        sh.describe_hub()
    assert err.value.response["Error"]["Code"] == "InvalidAccessException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    sh.enable_security_hub()
    hub = sh.describe_hub()
    assert hub["HubArn"] == f"arn:aws:securityhub:sa-east-1:{ACCOUNT}:hub/default" and hub["AutoEnableControls"]
    with pytest.raises(ClientError) as err:
        sh.enable_security_hub()
    assert err.value.response["Error"]["Code"] == "ResourceConflictException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    sh.disable_security_hub()
    for call in (sh.describe_hub, sh.get_findings, sh.disable_security_hub,
                 lambda: sh.batch_import_findings(Findings=[_own("x")])):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "InvalidAccessException"


def test_guardduty_findings_arrive_in_asff(hub):
    found = {f["Id"]: f for f in hub["sh"].get_findings(
        Filters={"ProductArn": [{"Value": GD_PRODUCT, "Comparison": "EQUALS"}]})["Findings"]}
    assert set(found) == {hub["ids"][n] for n in TYPES}
    ssh = found[hub["ids"]["ssh"]]
    detector_arn = f"arn:aws:guardduty:{REGION}:{ACCOUNT}:detector/{hub['detector']}"
    assert (ssh["SchemaVersion"], ssh["ProductArn"], ssh["GeneratorId"], ssh["AwsAccountId"]) == \
        ("2018-10-08", GD_PRODUCT, detector_arn, ACCOUNT)
    assert ssh["Types"] == ["TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce"]
    assert ssh["Severity"] == {"Product": 2.0, "Label": "LOW", "Normalized": 20}
    assert ssh["Resources"][0]["Type"] == "AwsEc2Instance"
    assert ssh["Resources"][0]["Id"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-99999999"
    assert ssh["Network"] == {"Direction": "IN", "Protocol": "TCP", "SourceIpV4": "198.51.100.0", "SourcePort": 32794,
                              "DestinationIpV4": "10.0.0.23", "DestinationPort": 22}
    assert ssh["ProductFields"]["aws/guardduty/service/additionalInfo/sample"] == "true"
    assert ssh["ProductFields"]["aws/guardduty/service/action/actionType"] == "NETWORK_CONNECTION"
    assert ssh["Sample"] is True and ssh["Workflow"] == {"Status": "NEW"} and ssh["RecordState"] == "ACTIVE"
    exfil = found[hub["ids"]["exfil"]]
    assert exfil["Severity"]["Label"] == "HIGH" and exfil["Resources"][0]["Type"] == "AwsIamAccessKey"
    assert exfil["Title"] == hub["gd_findings"][TYPES["exfil"]]["Title"]


def test_findings_from_before_the_hub_are_not_imported(module_cloud):
    gd = boto3.client("guardduty", region_name="ap-northeast-1")
    sh = boto3.client("securityhub", region_name="ap-northeast-1")
    detector = gd.create_detector(Enable=True)["DetectorId"]
    gd.create_sample_findings(DetectorId=detector, FindingTypes=[TYPES["ssh"]])
    sh.enable_security_hub()
    assert sh.get_findings()["Findings"] == []
    gd.create_sample_findings(DetectorId=detector, FindingTypes=[TYPES["malicious"]])
    assert [f["Types"][0].rsplit("/", 1)[1] for f in sh.get_findings()["Findings"]] == \
        ["UnauthorizedAccess:IAMUser-MaliciousIPCaller"]


def test_imported_event_for_high_guardduty_findings(hub):
    messages = hub["sqs"].receive_message(QueueUrl=hub["queue"], MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    event = json.loads(messages[0]["Body"])
    assert (event["source"], event["detail-type"]) == ("aws.securityhub", "Security Hub Findings - Imported")
    assert [f["Id"] for f in event["detail"]["findings"]] == [hub["ids"]["exfil"]]
    assert event["resources"] == [hub["ids"]["exfil"]]


# --- GetFindings filters ---------------------------------------------------------------------------------
FILTERS = [
    ("label-equals", {"SeverityLabel": [{"Value": "HIGH", "Comparison": "EQUALS"}]}, {"exfil"}),
    ("label-or", {"SeverityLabel": [{"Value": "HIGH", "Comparison": "EQUALS"},
                                    {"Value": "CRITICAL", "Comparison": "EQUALS"}]}, {"exfil", "admin"}),
    ("product-name", {"ProductName": [{"Value": "GuardDuty", "Comparison": "EQUALS"}]}, {"ssh", "malicious", "exfil"}),
    ("title-prefix", {"Title": [{"Value": "Cruddur", "Comparison": "PREFIX"}]}, {"admin", "logs"}),
    ("product-prefix-not-equals", {"ProductArn": [{"Value": f"arn:aws:securityhub:{REGION}::product/aws/",
                                                   "Comparison": "PREFIX_NOT_EQUALS"}]}, {"admin", "logs"}),
    ("title-contains", {"Title": [{"Value": "brute force", "Comparison": "CONTAINS"}]}, {"ssh"}),
    ("title-not-contains-and-not-equals", {"Title": [{"Value": "Cruddur", "Comparison": "NOT_CONTAINS"},
                                                     {"Value": "x", "Comparison": "NOT_EQUALS"}]},
     {"ssh", "malicious", "exfil"}),
    ("normalized-gte", {"SeverityNormalized": [{"Gte": 50}]}, {"malicious", "exfil", "admin"}),
    ("normalized-between", {"SeverityNormalized": [{"Gt": 20, "Lt": 80}]}, {"malicious"}),
    ("resource-type-key", {"ResourceType": [{"Value": "AwsIamAccessKey", "Comparison": "EQUALS"}]},
     {"malicious", "exfil"}),
    ("resource-type-instance", {"ResourceType": [{"Value": "AwsEc2Instance", "Comparison": "EQUALS"}]},
     {"ssh", "admin"}),
    ("created-within-7-days", {"CreatedAt": [{"DateRange": {"Value": 7, "Unit": "DAYS"}}]},
     {"ssh", "malicious", "exfil", "logs"}),
    ("created-between", {"CreatedAt": [{"Start": "2019-12-31T00:00:00Z", "End": "2020-01-02T00:00:00Z"}]}, {"admin"}),
    ("map-user-defined", {"UserDefinedFields": [{"Key": "team", "Value": "cruddur", "Comparison": "EQUALS"}]},
     {"admin"}),
    ("map-product-fields", {"ProductFields": [{"Key": "aws/guardduty/service/action/actionType",
                                               "Value": "AWS_API_CALL", "Comparison": "EQUALS"}]},
     {"malicious", "exfil"}),
    ("boolean-sample", {"Sample": [{"Value": True}]}, {"ssh", "malicious", "exfil"}),
    ("number-port", {"NetworkDestinationPort": [{"Eq": 22}]}, {"ssh"}),
    ("ip-cidr", {"NetworkSourceIpV4": [{"Cidr": "198.51.100.0/24"}]}, {"ssh"}),
    ("field-never-carried", {"MalwareName": [{"Value": "x", "Comparison": "NOT_EQUALS"}],
                             "Title": [{"Value": "Cruddur", "Comparison": "PREFIX"}]}, {"admin", "logs"}),
    ("two-fields-and", {"ProductName": [{"Value": "GuardDuty", "Comparison": "EQUALS"}],
                        "ResourceType": [{"Value": "AwsEc2Instance", "Comparison": "EQUALS"}]}, {"ssh"}),
]


@pytest.mark.parametrize("case_id,filters,expected", FILTERS, ids=[f[0] for f in FILTERS])
def test_get_findings_filters(hub, case_id, filters, expected):
    assert _names(hub, filters) == expected


def test_every_filter_case_discriminates():
    everything = {"ssh", "malicious", "exfil", "admin", "logs"}
    for case_id, _filters, expected in FILTERS:
        assert expected and expected != everything, case_id


def test_sort_and_pages(hub):
    sh = hub["sh"]
    first = sh.get_findings(SortCriteria=[{"Field": "SeverityNormalized", "SortOrder": "desc"}], MaxResults=2)
    assert [f["Severity"]["Label"] for f in first["Findings"]] == ["CRITICAL", "HIGH"]
    rest = sh.get_findings(SortCriteria=[{"Field": "SeverityNormalized", "SortOrder": "desc"}], MaxResults=2,
                           NextToken=first["NextToken"])
    assert [f["Severity"]["Label"] for f in rest["Findings"]] == ["MEDIUM", "LOW"]


@pytest.mark.parametrize("body", [
    {"Filters": {"Title": [{"Value": "x"}]}},
    {"Filters": {"Title": [{"Value": "x", "Comparison": "LIKE"}]}},
    {"Filters": {"CreatedAt": [{"Start": "yesterday"}]}},
    {"SortCriteria": [{"Field": "Title", "SortOrder": "sideways"}]},
    {"MaxResults": 101},
], ids=["no-comparison", "unknown-comparison", "bad-date", "bad-sort", "max-results"])
def test_invalid_get_findings(hub, body):
    with pytest.raises(ClientError) as err:
        _client("securityhub", validate=False).get_findings(**body)
    assert err.value.response["Error"]["Code"] == "InvalidInputException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# --- BatchImportFindings -----------------------------------------------------------------------------------
def test_batch_import_success(hub):
    assert hub["imported"]["SuccessCount"] == 2 and hub["imported"]["FailedCount"] == 0
    admin = hub["sh"].get_findings(Filters={"Id": [{"Value": "cruddur/admin-api", "Comparison": "EQUALS"}]})
    assert admin["Findings"][0]["Severity"] == {"Label": "CRITICAL", "Normalized": 90}


@pytest.mark.parametrize("finding,code,message_part", [
    ({k: v for k, v in _own("bad/1").items() if k != "Title"}, "InvalidInput", "'Title'"),
    (_own("bad/2", SchemaVersion="2020-01-01"), "InvalidInput", "SchemaVersion"),
    (_own("bad/3", Severity={"Label": "SEVERE"}), "InvalidInput", "Severity.Label"),
    (_own("bad/4", Types=["a/b/c/d"]), "InvalidInput", "Types"),
    (_own("bad/5", CreatedAt="yesterday"), "InvalidInput", "CreatedAt"),
    (_own("bad/6", ProductArn=GD_PRODUCT), "AccessDeniedException", "aws/guardduty"),
], ids=["missing-title", "schema-version", "severity-label", "types", "timestamp", "aws-product"])
def test_batch_import_failed_findings(hub, finding, code, message_part):
    answer = _client("securityhub", validate=False).batch_import_findings(
        Findings=[finding, _own("good/" + finding["Id"])])
    assert (answer["SuccessCount"], answer["FailedCount"]) == (1, 1)
    failed = answer["FailedFindings"][0]
    assert failed["Id"] == finding["Id"] and failed["ErrorCode"] == code and message_part in failed["ErrorMessage"]
    assert _names_by_id(hub, finding["Id"]) == []


def _names_by_id(hub, finding_id: str) -> list:
    return hub["sh"].get_findings(Filters={"Id": [{"Value": finding_id, "Comparison": "EQUALS"}]})["Findings"]


def test_batch_import_needs_one_to_a_hundred(hub):
    for findings in ([], [_own(f"many/{i}") for i in range(101)]):
        with pytest.raises(ClientError) as err:
            _client("securityhub", validate=False).batch_import_findings(Findings=findings)
        assert err.value.response["Error"]["Code"] == "InvalidInputException"


# --- BatchUpdateFindings, and GuardDuty's archive following ------------------------------------------------
def test_batch_update_findings_and_archive(hub):
    sh, ids = hub["sh"], hub["ids"]
    answer = sh.batch_update_findings(
        FindingIdentifiers=[{"Id": ids["ssh"], "ProductArn": GD_PRODUCT},
                            {"Id": "no-such-finding", "ProductArn": GD_PRODUCT}],
        Workflow={"Status": "NOTIFIED"}, Note={"Text": "paged on-call", "UpdatedBy": "triage-bot"})
    assert answer["ProcessedFindings"] == [{"Id": ids["ssh"], "ProductArn": GD_PRODUCT}]
    assert answer["UnprocessedFindings"][0]["ErrorCode"] == "FindingNotFound"
    assert _names(hub, {"WorkflowStatus": [{"Value": "NOTIFIED", "Comparison": "EQUALS"}]}) == {"ssh"}
    note = _names_by_id(hub, ids["ssh"])[0]["Note"]
    assert (note["Text"], note["UpdatedBy"]) == ("paged on-call", "triage-bot")
    sh.batch_update_findings(FindingIdentifiers=[{"Id": ids["malicious"], "ProductArn": GD_PRODUCT}],
                             Severity={"Label": "CRITICAL"})
    assert _names(hub, {"SeverityLabel": [{"Value": "CRITICAL", "Comparison": "EQUALS"}]}) == {"malicious", "admin"}
    # GuardDuty archives the SSH finding: Security Hub's copy is ARCHIVED, the triage is kept
    gd_id = ids["ssh"].rsplit("/", 1)[1]
    _client("guardduty").archive_findings(DetectorId=hub["detector"], FindingIds=[gd_id])
    ssh = _names_by_id(hub, ids["ssh"])[0]
    assert (ssh["RecordState"], ssh["Workflow"]["Status"]) == ("ARCHIVED", "NOTIFIED")
    # unarchived: ACTIVE again, and the workflow back to NEW (the API reference, Workflow.Status)
    _client("guardduty").unarchive_findings(DetectorId=hub["detector"], FindingIds=[gd_id])
    ssh = _names_by_id(hub, ids["ssh"])[0]
    assert (ssh["RecordState"], ssh["Workflow"]["Status"], ssh["Note"]["Text"]) == ("ACTIVE", "NEW", "paged on-call")


@pytest.mark.parametrize("body", [
    {"FindingIdentifiers": [{"Id": "x", "ProductArn": GD_PRODUCT}]},
    {"FindingIdentifiers": [], "Workflow": {"Status": "RESOLVED"}},
    {"FindingIdentifiers": [{"Id": "x", "ProductArn": GD_PRODUCT}], "Workflow": {"Status": "DONE"}},
    {"FindingIdentifiers": [{"Id": "x", "ProductArn": GD_PRODUCT}], "Note": {"Text": "no author"}},
], ids=["nothing-to-update", "no-identifiers", "bad-status", "note-without-author"])
def test_invalid_batch_update(hub, body):
    with pytest.raises(ClientError) as err:
        _client("securityhub", validate=False).batch_update_findings(**body)
    assert err.value.response["Error"]["Code"] == "InvalidInputException"


def test_a_filter_name_the_api_does_not_have_is_invalid_input(hub, module_cloud):
    """botocore cannot even send it; a raw request gets InvalidInputException and the server keeps serving."""
    answer = signed_raw(f"{module_cloud.aws_url}/findings", "securityhub", REGION,
                        json.dumps({"Filters": {"Nope": [{"Value": "x", "Comparison": "EQUALS"}]}}).encode())
    assert answer.status_code == 400 and answer.headers["x-amzn-ErrorType"] == "InvalidInputException"
    assert answer.json()["Code"] == "InvalidInputException" and "Nope" in answer.json()["Message"]
    assert hub["sh"].describe_hub()["HubArn"].endswith(":hub/default")


def test_guardduty_asff_uses_only_the_model_shape():
    """Each key of the ASFF GuardDuty sends (for every sample type) is a member of botocore's AwsSecurityFinding."""
    import botocore.session

    from lab_app.localcloud.guardduty import catalog
    from lab_app.localcloud.securityhub import asff

    model = botocore.session.get_session().get_service_model("securityhub")

    def check(value, shape, where):
        if shape.type_name == "structure":
            assert isinstance(value, dict), where
            for key, inner in value.items():
                assert key in shape.members, f"{where}.{key} is not in the model"
                check(inner, shape.members[key], f"{where}.{key}")
        elif shape.type_name == "list":
            assert isinstance(value, list), where
            for i, inner in enumerate(value):
                check(inner, shape.member, f"{where}[{i}]")
        elif shape.type_name == "map":
            assert isinstance(value, dict) and all(isinstance(v, str) for v in value.values()), where

    for finding_type in catalog.FINDING_TYPES.values():
        finding = catalog.sample_finding(finding_type, finding_id="f" * 32, detector_id="d" * 32,
                                         account_id=ACCOUNT, region=REGION, now_iso="2026-12-01T00:00:00.000Z")
        converted = asff.from_guardduty(finding, "2026-12-01T00:00:01.000Z")
        check(converted, model.shape_for("AwsSecurityFinding"), finding_type.name)
        assert asff.problems(converted) is None, finding_type.name


# the ASFF resource types GuardDuty's integration gives each resource family (Security Hub user guide, "ASFF resource
# types"; GuardDuty user guide, "Integrating with AWS Security Hub CSPM"): the first entry is the finding's resource
ASFF_RESOURCES = {"Instance": "AwsEc2Instance", "AccessKey": "AwsIamAccessKey", "S3Bucket": "AwsIamAccessKey",
                  "S3Object": "AwsS3Object", "EKSCluster": "AwsEksCluster", "ECSCluster": "AwsEcsCluster",
                  "Container": "Container", "RDSDBInstance": "AwsRdsDbInstance", "Lambda": "AwsLambdaFunction",
                  "EBSSnapshot": "Other", "EC2Image": "Other", "RecoveryPoint": "Other"}
NAMESPACES = ("Software and Configuration Checks/", "TTPs/", "Effects/", "Unusual Behaviors/")


def _converted():
    from lab_app.localcloud.guardduty import catalog
    from lab_app.localcloud.securityhub import asff

    for finding_type in catalog.FINDING_TYPES.values():
        finding = catalog.sample_finding(finding_type, finding_id="f" * 32, detector_id="d" * 32,
                                         account_id=ACCOUNT, region=REGION, now_iso="2026-12-01T00:00:00.000Z")
        yield finding_type, finding, asff.from_guardduty(finding, "2026-12-01T00:00:01.000Z")


def test_every_guardduty_type_has_an_asff_type_and_resource():
    seen = 0
    for finding_type, finding, converted in _converted():
        seen += 1
        assert converted["Types"] and all(t.startswith(NAMESPACES) and t.count("/") <= 2 for t in converted["Types"]), \
            finding_type.name
        assert converted["FindingProviderFields"]["Types"] == converted["Types"]
        kinds = [r["Type"] for r in converted["Resources"]]
        assert kinds and kinds[0] == ASFF_RESOURCES[finding["resource"]["resourceType"]], (finding_type.name, kinds)
        assert converted["Sample"] is True
    assert seen == 200   # the GuardDuty table (tests/test_guardduty.py counts it from the user guide)


# rows of the integration page's table, verbatim (one per namespace / family), and the attack sequences it lacks
ASFF_CASES = [
    ("UnauthorizedAccess:EC2/SSHBruteForce", ["TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce"]),
    ("Behavior:EC2/NetworkPortUnusual", ["Unusual Behaviors/VM/Behavior:EC2-NetworkPortUnusual"]),
    ("Trojan:EC2/DropPoint", ["Effects/Data Exfiltration/Trojan:EC2-DropPoint"]),
    ("Policy:Kubernetes/ExposedDashboard",
     ["Software and Configuration Checks/AWS Security Best Practices/Policy:Kubernetes-ExposedDashboard"]),
    ("CredentialAccess:Kubernetes/AnomalousBehavior.SecretsAccessed",
     ["TTPs/AnomalousBehavior/CredentialAccess:Kubernetes-SecretsAccessed"]),
    ("Execution:Runtime/ReverseShell", ["TTPs/Execution/Execution:Runtime-ReverseShell"]),
    ("Execution:EC2/MaliciousFile", ["TTPs/Execution/Execution:EC2-MaliciousFile"]),
    ("CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin",
     ["TTPs/Credential Access/CredentialAccess:RDS-AnomalousBehavior.SuccessfulLogin"]),
    ("CryptoCurrency:Lambda/BitcoinTool.B", ["TTPs/Command and Control/CryptoCurrency:Lambda-BitcoinTool.B",
                                             "Effects/Resource Consumption/CryptoCurrency:Lambda-BitcoinTool.B"]),
    ("AttackSequence:S3/CompromisedData", ["TTPs/AttackSequence:S3/CompromisedData"]),
    ("AttackSequence:EKS/CompromisedCluster", ["TTPs/AttackSequence:EKS/CompromisedCluster"]),
]


@pytest.mark.parametrize("finding_type,types", ASFF_CASES, ids=[c[0] for c in ASFF_CASES])
def test_asff_types_are_the_integration_pages(finding_type, types):
    converted = {t.name: c for t, _f, c in _converted()}[finding_type]
    assert converted["Types"] == types


def test_guardduty_findings_of_the_later_plans_arrive_with_their_resources(module_cloud):
    gd = boto3.client("guardduty", region_name="eu-north-1")
    sh = boto3.client("securityhub", region_name="eu-north-1")
    sh.enable_security_hub()
    detector = gd.create_detector(Enable=True)["DetectorId"]
    # GuardDuty type: (its ASFF type on the integration page, the ASFF resource type of its resource)
    chosen = {"CredentialAccess:Kubernetes/TorIPCaller":
              ("TTPs/CredentialAccess/CredentialAccess:Kubernetes-TorIPCaller", "AwsEksCluster"),
              "DefenseEvasion:Runtime/FilelessExecution":
              ("TTPs/Defense Evasion/DefenseEvasion:Runtime-FilelessExecution", "AwsEcsCluster"),
              "Execution:Runtime/ReverseShell": ("TTPs/Execution/Execution:Runtime-ReverseShell", "Container"),
              "Discovery:RDS/TorIPCaller": ("TTPs/Discovery/RDS-TorIPCaller", "AwsRdsDbInstance"),
              "Trojan:Lambda/DropPoint": ("Effects/Data Exfiltration/Trojan:Lambda-DropPoint", "AwsLambdaFunction"),
              "AttackSequence:IAM/CompromisedCredentials":
              ("TTPs/AttackSequence:IAM/CompromisedCredentials", "AwsIamAccessKey")}
    gd.create_sample_findings(DetectorId=detector, FindingTypes=list(chosen))
    found = sh.get_findings(Filters={"ProductArn": [{"Value": "arn:aws:securityhub:eu-north-1::product/aws/guardduty",
                                                     "Comparison": "EQUALS"}]})["Findings"]
    assert {f["Types"][0]: f["Resources"][0]["Type"] for f in found} == dict(chosen.values())
    sequence = next(f for f in found if "AttackSequence" in f["Types"][0])
    assert sequence["Severity"] == {"Product": 9.0, "Label": "CRITICAL", "Normalized": 90}
