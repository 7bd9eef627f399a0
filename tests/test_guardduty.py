"""GuardDuty in the local cloud, driven with boto3: detectors, sample findings of every active finding type the
user guide lists, FindingCriteria / SortCriteria, GetFindings, archiving, statistics, the "GuardDuty Finding"
events on the default EventBridge bus, and BadRequestException (InvalidInputException) for bad input.

The expected counts are counted by hand from the user guide, not from the catalog: the pages the "GuardDuty finding
types" page (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-active.html) is made of list
40 EC2, 27 IAM, 20 S3 Protection, 33 EKS audit log, 46 Runtime Monitoring, 8 Malware Protection for EC2, 1 Malware
Protection for S3, 4 Malware Protection for Backup, 9 RDS Protection, 7 Lambda Protection and 5 attack sequence
types: 200. By the resource the samples name: 63 Instance (40 EC2, 20 runtime network / DNS / host findings, 2 EC2
malware scans, the EC2 instance-group sequence), 28 AccessKey (27 IAM and the credentials sequence), 21 S3Bucket
(20 and the S3 data sequence), 46 EKSCluster (33 audit log, 10 runtime privilege escalation / persistence, the
Kubernetes malware scan pair, the EKS sequence; 33 + 10 + 2 + 1), 10 ECSCluster (7 runtime, 2 ECS malware, the ECS
sequence), 11 Container (9 runtime execution, 2 container malware), 9 RDSDBInstance, 7 Lambda, 1 S3Object, 1
EBSSnapshot, 1 EC2Image, 2 RecoveryPoint."""
from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.aws_raw import signed_raw

TOTAL = 40 + 27 + 20 + 33 + 46 + 8 + 1 + 4 + 9 + 7 + 5   # 200
RESOURCES = {"Instance": 63, "AccessKey": 28, "S3Bucket": 21, "EKSCluster": 46, "ECSCluster": 10, "Container": 11,
             "RDSDBInstance": 9, "Lambda": 7, "S3Object": 1, "EBSSnapshot": 1, "EC2Image": 1, "RecoveryPoint": 2}
# Critical: the 5 attack sequences. Low (22): EC2 5 (SuspiciousDomainRequest, WinRMBruteForce,
# PortProbeUnprotectedPort, RDP and SSH brute force), IAM 5 (Discovery AnomalousBehavior, the two root credential
# usages, CloudTrailLoggingDisabled, PasswordPolicyChange), S3 4 (Discovery AnomalousBehavior, the two Block Public
# Access ones, ServerAccessLoggingDisabled), EKS 3 (PermissionChecked, WorkloadDeployed, RoleCreated), Runtime 4
# (PtraceAntiDebugging, Discovery SuspiciousCommand, SuspiciousShellCreated, SuspiciousDomainRequest), RDS 1
# (AnomalousBehavior.FailedLogin). High 95 and Medium 78 are the rest (counted by family: EC2 21/14, IAM 6/16,
# S3 11/5, EKS 17/13, Runtime 24/18, Malware 4+1+4 High / 4 Medium, RDS 3/5, Lambda 4/3).
CRITICAL, HIGH, MEDIUM, LOW = 5, 95, 78, 22
EC2, IAM, S3 = RESOURCES["Instance"], RESOURCES["AccessKey"], RESOURCES["S3Bucket"]


def _bad_request(err: pytest.ExceptionInfo, message_part: str = "") -> None:
    response = err.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "BadRequestException"
    assert response["Type"] == "InvalidInputException"
    assert message_part in response["Error"]["Message"]


@pytest.fixture(scope="module")
def gd(module_cloud):
    return boto3.client("guardduty")


@pytest.fixture(scope="module")
def detector(gd):
    """A detector with one sample finding of every type (and a queue receiving the rule-matched events)."""
    detector_id = gd.create_detector(Enable=True)["DetectorId"]
    gd.create_sample_findings(DetectorId=detector_id)
    return detector_id


@pytest.fixture(scope="module")
def findings(gd, detector) -> list[dict]:
    ids = []
    for page in gd.get_paginator("list_findings").paginate(DetectorId=detector):
        ids += page["FindingIds"]
    out = []
    for start in range(0, len(ids), 50):
        out += gd.get_findings(DetectorId=detector, FindingIds=ids[start:start + 50])["Findings"]
    return out


def _ids(gd, detector, criterion: dict) -> list[str]:
    ids: list[str] = []
    for page in gd.get_paginator("list_findings").paginate(DetectorId=detector,
                                                           FindingCriteria={"Criterion": criterion}):
        ids += page["FindingIds"]
    return ids


# --- detectors ------------------------------------------------------------------------------------------
def test_detector_lifecycle(module_cloud):
    gd = boto3.client("guardduty", region_name="eu-west-1")
    detector_id = gd.create_detector(Enable=True, Tags={"app": "cruddur"})["DetectorId"]
    assert len(detector_id) == 32
    got = gd.get_detector(DetectorId=detector_id)
    assert got["Status"] == "ENABLED" and got["FindingPublishingFrequency"] == "SIX_HOURS"
    assert got["ServiceRole"].endswith(":role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty")
    assert got["Tags"] == {"app": "cruddur"}
    assert gd.list_detectors()["DetectorIds"] == [detector_id]
    with pytest.raises(ClientError) as err:
        gd.create_detector(Enable=True)
    _bad_request(err, "detector already exists")
    gd.update_detector(DetectorId=detector_id, Enable=False, FindingPublishingFrequency="FIFTEEN_MINUTES")
    got = gd.get_detector(DetectorId=detector_id)
    assert (got["Status"], got["FindingPublishingFrequency"]) == ("DISABLED", "FIFTEEN_MINUTES")
    gd.delete_detector(DetectorId=detector_id)
    assert gd.list_detectors()["DetectorIds"] == []
    with pytest.raises(ClientError) as err:
        gd.get_detector(DetectorId=detector_id)
    _bad_request(err, "detectorId is not owned by the current account")


@pytest.mark.parametrize("call", [
    lambda gd, d: gd.get_detector(DetectorId=d),
    lambda gd, d: gd.update_detector(DetectorId=d, Enable=True),
    lambda gd, d: gd.delete_detector(DetectorId=d),
    lambda gd, d: gd.create_sample_findings(DetectorId=d),
    lambda gd, d: gd.list_findings(DetectorId=d),
    lambda gd, d: gd.get_findings(DetectorId=d, FindingIds=["x"]),
    lambda gd, d: gd.archive_findings(DetectorId=d, FindingIds=["x"]),
    lambda gd, d: gd.unarchive_findings(DetectorId=d, FindingIds=["x"]),
    lambda gd, d: gd.get_findings_statistics(DetectorId=d, FindingStatisticTypes=["COUNT_BY_SEVERITY"]),
], ids=["GetDetector", "UpdateDetector", "DeleteDetector", "CreateSampleFindings", "ListFindings", "GetFindings",
        "ArchiveFindings", "UnarchiveFindings", "GetFindingsStatistics"])
def test_unknown_detector_is_a_bad_request(gd, detector, call):
    with pytest.raises(ClientError) as err:
        call(gd, "0" * 32)
    _bad_request(err, "not owned by the current account")


def test_invalid_publishing_frequency(gd):
    with pytest.raises(ClientError) as err:
        boto3.client("guardduty", region_name="ap-south-1").create_detector(
            Enable=True, FindingPublishingFrequency="HOURLY")
    _bad_request(err)


# --- sample findings ------------------------------------------------------------------------------------
def test_one_sample_of_every_type(findings):
    types = [f["Type"] for f in findings]
    assert len(types) == TOTAL == len(set(types))
    assert {"UnauthorizedAccess:EC2/SSHBruteForce", "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
            "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", "Trojan:EC2/DNSDataExfiltration",
            "Policy:S3/BucketPublicAccessGranted"} <= set(types)


def test_samples_are_complete_findings_marked_as_samples(findings, detector):
    for f in findings:
        assert {"AccountId", "Arn", "CreatedAt", "Id", "Region", "Resource", "SchemaVersion", "Severity", "Type",
                "UpdatedAt", "Title", "Description", "Service"} <= set(f), f["Type"]
        assert f["Arn"] == f"arn:aws:guardduty:us-east-1:123456789012:detector/{detector}/finding/{f['Id']}"
        assert f["SchemaVersion"] == "2.0" and f["Partition"] == "aws"
        service = f["Service"]
        assert service["ServiceName"] == "guardduty" and service["DetectorId"] == detector
        assert json.loads(service["AdditionalInfo"]["Value"]) == {"sample": True}
        assert service["Archived"] is False and service["Count"] == 1


def test_resource_and_action_blocks_follow_the_type(findings):
    by_type = {f["Type"]: f for f in findings}
    kinds = [f["Resource"]["ResourceType"] for f in findings]
    assert {kind: kinds.count(kind) for kind in set(kinds)} == RESOURCES and sum(RESOURCES.values()) == TOTAL
    ssh = by_type["UnauthorizedAccess:EC2/SSHBruteForce"]
    nic = ssh["Resource"]["InstanceDetails"]["NetworkInterfaces"][0]
    assert ssh["Resource"]["InstanceDetails"]["InstanceId"] == "i-99999999"
    assert nic["SecurityGroups"][0]["GroupId"] == "sg-99999999"
    connection = ssh["Service"]["Action"]["NetworkConnectionAction"]
    assert (ssh["Service"]["Action"]["ActionType"], connection["ConnectionDirection"],
            connection["LocalPortDetails"]["Port"], ssh["Service"]["ResourceRole"]) == \
        ("NETWORK_CONNECTION", "INBOUND", 22, "TARGET")
    malicious = by_type["UnauthorizedAccess:IAMUser/MaliciousIPCaller"]
    assert malicious["Resource"]["AccessKeyDetails"]["AccessKeyId"] == "GeneratedFindingAccessKeyId"
    assert malicious["Service"]["Action"]["AwsApiCallAction"]["RemoteIpDetails"]["IpAddressV4"] == "198.51.100.0"
    exfil = by_type["UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"]
    assert exfil["Resource"]["AccessKeyDetails"]["UserType"] == "AssumedRole" and exfil["Severity"] == 8
    bucket = by_type["Policy:S3/BucketPublicAccessGranted"]["Resource"]["S3BucketDetails"][0]
    assert bucket["PublicAccess"]["EffectivePermission"] == "PUBLIC"
    assert by_type["Recon:EC2/PortProbeUnprotectedPort"]["Service"]["Action"]["ActionType"] == "PORT_PROBE"
    assert by_type["Trojan:EC2/DropPoint!DNS"]["Service"]["Action"]["DnsRequestAction"]["Domain"]


def test_sample_findings_of_chosen_types_and_unknown_types(gd, module_cloud):
    gd2 = boto3.client("guardduty", region_name="us-west-2")
    detector_id = gd2.create_detector(Enable=True)["DetectorId"]
    gd2.create_sample_findings(DetectorId=detector_id, FindingTypes=["Recon:EC2/Portscan", "Stealth:S3/ServerAccessLoggingDisabled"])
    ids = gd2.list_findings(DetectorId=detector_id)["FindingIds"]
    got = sorted(f["Type"] for f in gd2.get_findings(DetectorId=detector_id, FindingIds=ids)["Findings"])
    assert got == ["Recon:EC2/Portscan", "Stealth:S3/ServerAccessLoggingDisabled"]
    with pytest.raises(ClientError) as err:
        gd2.create_sample_findings(DetectorId=detector_id, FindingTypes=["Made:Up/Type"])
    _bad_request(err, "The request is rejected because an invalid or out-of-range value is specified as an input "
                      "parameter.")
    # a retired type is unknown too, and nothing of a rejected request is created
    with pytest.raises(ClientError) as err:
        gd2.create_sample_findings(DetectorId=detector_id, FindingTypes=["Recon:EC2/Portscan",
                                                                         "UnauthorizedAccess:IAMUser/ConsoleLogin"])
    _bad_request(err, "invalid or out-of-range value")
    assert len(gd2.list_findings(DetectorId=detector_id)["FindingIds"]) == 2


# the resource each page's types name: (type pattern, resourceType), first match wins (fnmatch, case-sensitive)
EXPECTED_RESOURCE = [
    ("AttackSequence:IAM/*", "AccessKey"), ("AttackSequence:S3/*", "S3Bucket"),
    ("AttackSequence:EKS/*", "EKSCluster"), ("AttackSequence:ECS/*", "ECSCluster"),
    ("AttackSequence:EC2/*", "Instance"),
    ("Execution:EC2/MaliciousFile!Snapshot", "EBSSnapshot"), ("Execution:EC2/MaliciousFile!AMI", "EC2Image"),
    ("*!RecoveryPoint", "RecoveryPoint"), ("Object:S3/MaliciousFile", "S3Object"),
    ("Execution:EC2/*File", "Instance"), ("Execution:ECS/*File", "ECSCluster"),
    ("Execution:Kubernetes/*File", "EKSCluster"), ("Execution:Container/*File", "Container"),
    ("*:EC2/*", "Instance"), ("*:IAMUser/*", "AccessKey"), ("*:S3/*", "S3Bucket"), ("*:Kubernetes/*", "EKSCluster"),
    ("*:RDS/*", "RDSDBInstance"), ("*:Lambda/*", "Lambda"),
]
RUNTIME_RESOURCES = {"Instance", "EKSCluster", "ECSCluster", "Container"}   # Runtime Monitoring: EC2, EKS, ECS


def _expected_resource(finding_type: str) -> set[str]:
    from fnmatch import fnmatchcase

    if ":Runtime/" in finding_type:
        return RUNTIME_RESOURCES
    return {next(kind for pattern, kind in EXPECTED_RESOURCE if fnmatchcase(finding_type, pattern))}


@pytest.fixture(scope="module")
def single(module_cloud):
    """A detector (its own Region) that CreateSampleFindings fills one type per call."""
    client = boto3.client("guardduty", region_name="sa-east-1")
    return client, client.create_detector(Enable=True)["DetectorId"]


def _table_types() -> list[str]:
    from lab_app.localcloud.guardduty import catalog

    return list(catalog.FINDING_TYPES)


@pytest.mark.parametrize("finding_type", _table_types())
def test_each_type_on_its_own(single, finding_type):
    gd, detector_id = single
    gd.create_sample_findings(DetectorId=detector_id, FindingTypes=[finding_type])
    ids = gd.list_findings(DetectorId=detector_id, FindingCriteria={"Criterion": {"type": {"Eq": [finding_type]}}})
    assert len(ids["FindingIds"]) == 1
    finding = gd.get_findings(DetectorId=detector_id, FindingIds=ids["FindingIds"])["Findings"][0]
    assert finding["Type"] == finding_type and finding["Resource"]["ResourceType"] in _expected_resource(finding_type)
    assert json.loads(finding["Service"]["AdditionalInfo"]["Value"]) == {"sample": True}
    assert finding["Severity"] in (2, 5, 8, 9) and finding["Title"] and finding["Description"]


def test_the_table_holds_the_pages_types():
    assert len(_table_types()) == TOTAL == len(set(_table_types()))


def test_resource_details_per_family(findings):
    """Each family's sample carries the details block AWS's findings of that family have."""
    by_type = {f["Type"]: f for f in findings}
    eks = by_type["CredentialAccess:Kubernetes/MaliciousIPCaller"]
    assert eks["Resource"]["EksClusterDetails"]["Name"] and \
        eks["Resource"]["KubernetesDetails"]["KubernetesUserDetails"]["Username"]
    assert eks["Service"]["Action"]["ActionType"] == "KUBERNETES_API_CALL"
    assert eks["Service"]["Action"]["KubernetesApiCallAction"]["RemoteIpDetails"]["IpAddressV4"] == "198.51.100.0"
    runtime = by_type["PrivilegeEscalation:Runtime/DockerSocketAccessed"]
    assert runtime["Service"]["RuntimeDetails"]["Context"]["SocketPath"] == "/var/run/docker.sock"
    assert runtime["Service"]["RuntimeDetails"]["Process"]["Name"]
    assert by_type["Execution:Runtime/ReverseShell"]["Resource"]["ContainerDetails"]["Id"]
    assert by_type["DefenseEvasion:Runtime/FilelessExecution"]["Resource"]["EcsClusterDetails"]["TaskDetails"]["Containers"]
    malware = by_type["Execution:EC2/MaliciousFile"]
    assert malware["Resource"]["EbsVolumeDetails"]["ScannedVolumeDetails"][0]["VolumeArn"].endswith("vol-99999999")
    detections = malware["Service"]["EbsVolumeScanDetails"]["ScanDetections"]
    assert detections["ThreatDetectedByName"]["ThreatNames"][0]["Name"] == "EICAR-Test-File (not a virus)"
    assert by_type["Object:S3/MaliciousFile"]["Resource"]["S3BucketDetails"][0]["S3ObjectDetails"][0]["Key"]
    assert by_type["Execution:EC2/MaliciousFile!Snapshot"]["Service"]["MalwareScanDetails"]["ScanType"] == \
        "BACKUP_INITIATED"
    rds = by_type["CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin"]
    assert rds["Resource"]["RdsDbInstanceDetails"]["DbInstanceIdentifier"] and rds["Resource"]["RdsDbUserDetails"]["User"]
    attempt = rds["Service"]["Action"]["RdsLoginAttemptAction"]
    assert rds["Service"]["Action"]["ActionType"] == "RDS_LOGIN_ATTEMPT"
    assert attempt["LoginAttributes"][0]["SuccessfulLoginAttempts"] == 1
    fn = by_type["UnauthorizedAccess:Lambda/TorClient"]
    assert fn["Resource"]["LambdaDetails"]["FunctionName"] == "GeneratedFindingFunctionName"
    assert fn["Service"]["Action"]["NetworkConnectionAction"]["ConnectionDirection"] == "OUTBOUND"
    sequence = by_type["AttackSequence:S3/CompromisedData"]
    assert sequence["Severity"] == 9 and sequence["Resource"]["ResourceType"] == "S3Bucket"
    signals = sequence["Service"]["Detection"]["Sequence"]["Signals"]
    assert [s["Name"] for s in signals] == ["Discovery:S3/AnomalousBehavior", "Exfiltration:S3/AnomalousBehavior"]
    assert sequence["Service"]["Detection"]["Sequence"]["Resources"][0]["ResourceType"] == "S3_BUCKET"


# default severity per type, from the pages (one literal per type on a page where the family mixes levels)
SEVERITIES = [
    ("UnauthorizedAccess:EC2/SSHBruteForce", 2), ("Backdoor:EC2/C&CActivity.B", 8), ("Impact:EC2/PortSweep", 8),
    ("DefenseEvasion:EC2/UnusualDoHActivity", 5), ("Discovery:IAMUser/AnomalousBehavior", 2),
    ("Exfiltration:IAMUser/AnomalousBehavior", 8), ("Policy:IAMUser/ShortTermRootCredentialUsage", 2),
    ("Discovery:S3/MaliciousIPCaller.Custom", 8), ("Impact:S3/AnomalousBehavior.Write", 5),
    ("Discovery:Kubernetes/MaliciousIPCaller", 5), ("Execution:Kubernetes/AnomalousBehavior.WorkloadDeployed", 2),
    ("Policy:Kubernetes/AdminAccessToDefaultServiceAccount", 8), ("PrivilegeEscalation:Runtime/RuncContainerEscape", 8),
    ("PrivilegeEscalation:Runtime/DockerSocketAccessed", 5), ("Trojan:Runtime/DropPoint!DNS", 5),
    ("CredentialAccess:RDS/AnomalousBehavior.FailedLogin", 2), ("CredentialAccess:RDS/TorIPCaller.SuccessfulLogin", 8),
    ("Trojan:Lambda/BlackholeTraffic", 5), ("UnauthorizedAccess:Lambda/TorRelay", 8),
    ("AttackSequence:EC2/CompromisedInstanceGroup", 9), ("AttackSequence:IAM/CompromisedCredentials", 9),
    ("Trojan:EC2/DriveBySourceTraffic!DNS", 8), ("Trojan:EC2/DropPoint!DNS", 5),
    ("Impact:EC2/MaliciousDomainRequest.Custom", 5), ("DefenseEvasion:Runtime/KernelModuleLoaded", 8),
    ("Trojan:Runtime/DriveBySourceTraffic!DNS", 8), ("PrivilegeEscalation:Runtime/SuspiciousCommand", 5),
    ("Discovery:Runtime/SuspiciousCommand", 2), ("UnauthorizedAccess:IAMUser/ResourceCredentialExfiltration.OutsideAWS", 8),
]


@pytest.mark.parametrize("finding_type,severity", SEVERITIES, ids=[s[0] for s in SEVERITIES])
def test_default_severity(findings, finding_type, severity):
    assert {f["Type"]: f["Severity"] for f in findings}[finding_type] == severity


# --- FindingCriteria --------------------------------------------------------------------------------------
CRITERIA = [
    ("severity-gte", {"severity": {"Gte": 7}}, HIGH + CRITICAL),
    ("severity-greater-than-or-equal", {"severity": {"GreaterThanOrEqual": 9}}, CRITICAL),
    ("severity-lt", {"severity": {"Lt": 4}}, LOW),
    ("severity-medium-band", {"severity": {"GreaterThanOrEqual": 4, "LessThan": 7}}, MEDIUM),
    ("severity-eq", {"severity": {"Eq": ["2"]}}, LOW),
    ("type-eq", {"type": {"Eq": ["UnauthorizedAccess:EC2/SSHBruteForce"]}}, 1),
    ("type-equals-two", {"type": {"Equals": ["Recon:EC2/Portscan", "Backdoor:EC2/Spambot"]}}, 2),
    ("resource-type", {"resource.resourceType": {"Eq": ["S3Bucket"]}}, S3),
    ("resource-type-neq", {"resource.resourceType": {"Neq": ["Instance"]}}, TOTAL - EC2),
    ("resource-type-not-equals", {"resource.resourceType": {"NotEquals": ["Instance", "S3Bucket"]}}, TOTAL - EC2 - S3),
    # PortProbeUnprotectedPort, PortProbeEMRUnprotectedPort, PortSweep
    ("port-probe", {"service.action.actionType": {"Eq": ["PORT_PROBE"]}}, 3),
    # EC2: 15 DNS-log findings (the 8 !DNS / DGADomainRequest.B / DNSDataExfiltration trojans and backdoors, the 5
    # Impact domain requests, BitcoinTool.B!DNS, MetadataDNSRebind); Runtime: their 12 counterparts
    ("dns", {"service.action.actionType": {"Eq": ["DNS_REQUEST"]}}, 15 + 12),
    # 33 EKS audit log findings
    ("kubernetes", {"service.action.actionType": {"Eq": ["KUBERNETES_API_CALL", "KUBERNETES_PERMISSION_CHECKED"]}}, 33),
    ("rds", {"service.action.actionType": {"Eq": ["RDS_LOGIN_ATTEMPT"]}}, 9),
    # ConsoleLoginSuccess.B, Instance- and ResourceCredentialExfiltration (2 each), MaliciousIPCaller(.Custom), TorIPCaller
    ("matches", {"type": {"Matches": ["UnauthorizedAccess:IAMUser/*"]}}, 8),
    # *:EC2/*: the 40 EC2 types, 5 Execution:EC2/MaliciousFile* / SuspiciousFile malware types, the EC2 sequence
    ("not-matches", {"type": {"NotMatches": ["*:EC2/*"]}}, TOTAL - 46),
    ("nested-list-path", {"resource.instanceDetails.networkInterfaces.securityGroups.groupId": {"Eq": ["sg-99999999"]}}, EC2),
    # Exfiltration and Impact AnomalousBehavior, Instance- and ResourceCredentialExfiltration, the credentials sequence
    ("and", {"severity": {"Gte": 7}, "resource.resourceType": {"Eq": ["AccessKey"]}}, 7),
]


@pytest.mark.parametrize("case_id,criterion,expected", CRITERIA, ids=[c[0] for c in CRITERIA])
def test_finding_criteria(gd, detector, case_id, criterion, expected):
    assert len(_ids(gd, detector, criterion)) == expected


def test_every_criteria_case_discriminates():
    for case_id, _criterion, expected in CRITERIA:
        assert 0 < expected < TOTAL, case_id


def test_timestamps_compare_as_epoch_milliseconds(gd, detector):
    an_hour_ago = int((time.time() - 3600) * 1000)
    assert len(_ids(gd, detector, {"updatedAt": {"GreaterThanOrEqual": an_hour_ago}})) == TOTAL
    assert _ids(gd, detector, {"updatedAt": {"LessThan": an_hour_ago}}) == []


@pytest.mark.parametrize("criteria", [
    {"Criterion": {"nope.notAField": {"Eq": ["x"]}}},
    {"Criterion": {"severity": {}}},
    {"Criterion": {"type": {"Eq": []}}},
], ids=["unknown-attribute", "no-operator", "empty-list"])
def test_invalid_finding_criteria(gd, detector, criteria):
    with pytest.raises(ClientError) as err:
        gd.list_findings(DetectorId=detector, FindingCriteria=criteria)
    _bad_request(err)


def test_sort_and_pages(gd, detector, findings):
    by_id = {f["Id"]: f for f in findings}
    pages, token = [], None
    while True:
        page = gd.list_findings(DetectorId=detector, SortCriteria={"AttributeName": "severity", "OrderBy": "DESC"},
                                MaxResults=50, **({"NextToken": token} if token else {}))
        pages.append(page["FindingIds"])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [50, 50, 50, 50]   # 200 findings
    assert [by_id[i]["Severity"] for p in pages for i in p] == \
        [9] * CRITICAL + [8] * HIGH + [5] * MEDIUM + [2] * LOW
    by_type = gd.list_findings(DetectorId=detector, SortCriteria={"AttributeName": "type", "OrderBy": "ASC"},
                               MaxResults=5)["FindingIds"]
    assert [by_id[i]["Type"] for i in by_type] == sorted(f["Type"] for f in findings)[:5]
    with pytest.raises(ClientError) as err:
        gd.list_findings(DetectorId=detector, NextToken="garbage")
    _bad_request(err)
    with pytest.raises(ClientError) as err:
        gd.list_findings(DetectorId=detector, MaxResults=51)
    _bad_request(err)


def test_get_findings_skips_unknown_ids_and_sorts(gd, detector, findings):
    ids = [f["Id"] for f in findings[:3]] + ["f" * 32]
    got = gd.get_findings(DetectorId=detector, FindingIds=ids,
                          SortCriteria={"AttributeName": "type", "OrderBy": "DESC"})["Findings"]
    assert [f["Type"] for f in got] == sorted((f["Type"] for f in findings[:3]), reverse=True)


def test_archive_and_unarchive(gd, detector, findings):
    ids = [f["Id"] for f in findings[:2]]
    gd.archive_findings(DetectorId=detector, FindingIds=ids)
    assert sorted(_ids(gd, detector, {"service.archived": {"Eq": ["true"]}})) == sorted(ids)
    assert len(_ids(gd, detector, {"service.archived": {"Eq": ["false"]}})) == TOTAL - 2
    assert all(f["Service"]["Archived"] for f in gd.get_findings(DetectorId=detector, FindingIds=ids)["Findings"])
    gd.unarchive_findings(DetectorId=detector, FindingIds=ids)
    assert _ids(gd, detector, {"service.archived": {"Eq": ["true"]}}) == []


def test_statistics(gd, detector):
    stats = gd.get_findings_statistics(DetectorId=detector, FindingStatisticTypes=["COUNT_BY_SEVERITY"])
    assert stats["FindingStatistics"]["CountBySeverity"] == {"9.0": CRITICAL, "8.0": HIGH, "5.0": MEDIUM, "2.0": LOW}
    # Instance resources: the 40 EC2 types (High 21: 7 Backdoor, 2 CryptoCurrency, 3 Impact, PortProbeEMR, 5 Trojan,
    # MetadataDNSRebind, TorClient, TorRelay; Low 5; Medium 14), 20 runtime ones on EC2 (High 13, Medium 6, Low 1:
    # SuspiciousDomainRequest), the EC2 malware pair (High, Medium) and the instance-group sequence (Critical).
    ec2 = gd.get_findings_statistics(DetectorId=detector, FindingStatisticTypes=["COUNT_BY_SEVERITY"],
                                     FindingCriteria={"Criterion": {"resource.resourceType": {"Eq": ["Instance"]}}})
    assert ec2["FindingStatistics"]["CountBySeverity"] == {"9.0": 1, "8.0": 21 + 13 + 1, "5.0": 14 + 6 + 1,
                                                           "2.0": 5 + 1}
    grouped = gd.get_findings_statistics(DetectorId=detector, GroupBy="SEVERITY", OrderBy="DESC")
    assert [(g["Severity"], g["TotalFindings"]) for g in grouped["FindingStatistics"]["GroupedBySeverity"]] == \
        [(8.0, HIGH), (5.0, MEDIUM), (2.0, LOW), (9.0, CRITICAL)]
    with pytest.raises(ClientError) as err:
        gd.get_findings_statistics(DetectorId=detector)
    _bad_request(err)


# --- events ---------------------------------------------------------------------------------------------
def test_each_new_finding_is_a_guardduty_finding_event(module_cloud):
    region = "ca-central-1"
    gd, events, sqs = (boto3.client(s, region_name=region) for s in ("guardduty", "events", "sqs"))
    url = sqs.create_queue(QueueName="gd-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="gd-high", EventPattern=json.dumps({"source": ["aws.guardduty"],
                                                             "detail-type": ["GuardDuty Finding"],
                                                             "detail": {"severity": [{"numeric": [">=", 7]}]}}))
    events.put_targets(Rule="gd-high", Targets=[{"Id": "q", "Arn": arn}])
    detector_id = gd.create_detector(Enable=True)["DetectorId"]
    gd.create_sample_findings(DetectorId=detector_id, FindingTypes=[
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", "UnauthorizedAccess:EC2/SSHBruteForce",
        "Trojan:EC2/DNSDataExfiltration"])
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(b["detail"]["type"] for b in bodies) == ["Trojan:EC2/DNSDataExfiltration",
                                                           "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"]
    event = bodies[0]
    assert (event["source"], event["detail-type"], event["region"], event["account"]) == \
        ("aws.guardduty", "GuardDuty Finding", region, "123456789012")
    detail = event["detail"]
    assert detail["schemaVersion"] == "2.0" and detail["service"]["serviceName"] == "guardduty"
    assert detail["arn"].startswith(f"arn:aws:guardduty:{region}:123456789012:detector/{detector_id}/finding/")


def test_the_awscli_reads_findings_and_errors(gd, detector, module_cloud):
    import os
    import subprocess
    import sys
    from pathlib import Path

    aws = str(Path(sys.executable).with_name("aws"))
    env = {**os.environ, "AWS_PAGER": ""}
    high = subprocess.run([aws, "guardduty", "list-findings", "--detector-id", detector, "--finding-criteria",
                           '{"Criterion": {"severity": {"Gte": 7}}}', "--output", "json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert high.returncode == 0, high.stderr
    assert len(json.loads(high.stdout)["FindingIds"]) == HIGH + CRITICAL
    bad = subprocess.run([aws, "guardduty", "get-detector", "--detector-id", "0" * 32], capture_output=True,
                         text=True, env=env, timeout=60)
    assert bad.returncode == 255 and "(BadRequestException)" in bad.stderr
    # a type of a later protection plan, created and read back with the CLI (its own Region, so the shared
    # detector keeps its 200)
    other = boto3.client("guardduty", region_name="eu-west-3").create_detector(Enable=True)["DetectorId"]
    region = ["--region", "eu-west-3", "--output", "json"]
    made = subprocess.run([aws, "guardduty", "create-sample-findings", "--detector-id", other, "--finding-types",
                           "Execution:Runtime/ReverseShell", "AttackSequence:EKS/CompromisedCluster", *region],
                          capture_output=True, text=True, env=env, timeout=60)
    assert made.returncode == 0, made.stderr
    ids = json.loads(subprocess.run([aws, "guardduty", "list-findings", "--detector-id", other, *region],
                                    capture_output=True, text=True, env=env, timeout=60).stdout)["FindingIds"]
    got = json.loads(subprocess.run([aws, "guardduty", "get-findings", "--detector-id", other, "--finding-ids", *ids,
                                     *region], capture_output=True, text=True, env=env, timeout=60).stdout)
    assert sorted((f["Type"], f["Resource"]["ResourceType"]) for f in got["Findings"]) == \
        [("AttackSequence:EKS/CompromisedCluster", "EKSCluster"), ("Execution:Runtime/ReverseShell", "Container")]
    unknown = subprocess.run([aws, "guardduty", "create-sample-findings", "--detector-id", other, "--finding-types",
                              "Made:Up/Type", *region], capture_output=True, text=True, env=env, timeout=60)
    assert unknown.returncode == 255
    assert "(BadRequestException)" in unknown.stderr and "invalid or out-of-range value" in unknown.stderr


def test_a_body_that_is_not_json_is_a_bad_request_and_the_server_keeps_serving(gd, detector, module_cloud):
    answer = signed_raw(f"{module_cloud.aws_url}/detector/{detector}/findings", "guardduty", "us-east-1",
                        b"{not json")
    assert answer.status_code == 400 and answer.headers["x-amzn-ErrorType"] == "BadRequestException"
    assert answer.json()["__type"] == "InvalidInputException"
    assert gd.get_detector(DetectorId=detector)["Status"] == "ENABLED"


def test_every_sample_uses_only_the_finding_shape_of_the_model():
    """Each key of each sample (wire format) is a member of botocore's Finding shape, with the type it declares."""
    import botocore.session

    from lab_app.localcloud.guardduty import catalog

    model = botocore.session.get_session().get_service_model("guardduty")
    kinds = {"string": str, "boolean": bool, "integer": int, "long": int, "double": (int, float),
             "timestamp": str, "list": list, "structure": dict, "map": dict}

    def check(value, shape, where):
        assert isinstance(value, kinds[shape.type_name]) and not (shape.type_name != "boolean" and value is True), \
            f"{where}: {value!r} is not a {shape.type_name}"
        if shape.type_name == "structure":
            names = {m.serialization.get("name", n): m for n, m in shape.members.items()}
            for key, inner in value.items():
                assert key in names, f"{where}.{key} is not in the model"
                check(inner, names[key], f"{where}.{key}")
        elif shape.type_name == "list":
            for i, inner in enumerate(value):
                check(inner, shape.member, f"{where}[{i}]")

    for finding_type in catalog.FINDING_TYPES.values():
        finding = catalog.sample_finding(finding_type, finding_id="f" * 32, detector_id="d" * 32,
                                         account_id="123456789012", region="us-east-1",
                                         now_iso="2026-12-01T00:00:00.000Z")
        check(finding, model.shape_for("Finding"), finding_type.name)

