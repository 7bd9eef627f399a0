"""The AWS Security Finding Format (ASFF, SchemaVersion 2018-10-08): what GuardDuty sends Security Hub, and the
checks BatchImportFindings applies to a finding.

GuardDuty's mapping (Security Hub user guide, "Amazon GuardDuty" integration, and the GuardDuty user guide's
"Integrating GuardDuty with Security Hub"): Id is the finding ARN, GeneratorId the detector ARN, ProductArn
``arn:aws:securityhub:<region>::product/aws/guardduty``, Severity.Product the GuardDuty severity, Severity.Label
LOW (1.0-3.9), MEDIUM (4.0-6.9), HIGH (7.0-8.9), CRITICAL (9.0-10.0), Severity.Normalized = severity x 10, the
service block flattened into ProductFields under ``aws/guardduty/service/...``, the resources as AwsEc2Instance /
AwsIamAccessKey / AwsS3Bucket / AwsS3Object / AwsEksCluster / AwsEcsCluster / Container / AwsRdsDbInstance /
AwsLambdaFunction / AwsEc2Volume (the scanned volumes of a malware scan) / Other (snapshots, AMIs, recovery points),
Network from a network-connection action, Sample for sample findings. Types is the ASFF type GuardDuty's
integration page gives the finding type (guardduty_types.ASFF_TYPES).
"""
from __future__ import annotations

import json
from typing import Any

from lab_app.localcloud.securityhub.guardduty_types import asff_types

SCHEMA_VERSION = "2018-10-08"
REQUIRED = ("SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "Types", "CreatedAt", "UpdatedAt",
            "Severity", "Title", "Description", "Resources")
LABELS = ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL")
WORKFLOW = ("NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED")


def product_arn(region: str, product: str = "aws/guardduty") -> str:
    return f"arn:aws:securityhub:{region}::product/{product}"


def label(severity: float) -> str:
    if severity >= 9.0:
        return "CRITICAL"
    if severity >= 7.0:
        return "HIGH"
    if severity >= 4.0:
        return "MEDIUM"
    return "LOW" if severity >= 1.0 else "INFORMATIONAL"


def _flatten(prefix: str, node: Any, out: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(f"{prefix}/{key}", value, out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _flatten(f"{prefix}/{i}", value, out)
    elif node is not None:
        out[prefix] = str(node).lower() if isinstance(node, bool) else str(node)


def _resources(finding: dict) -> list[dict]:
    res, account, region = finding["resource"], finding["accountId"], finding["region"]
    out: list[dict] = []
    if res.get("instanceDetails"):
        inst = res["instanceDetails"]
        nics = inst.get("networkInterfaces") or [{}]
        details = {k: v for k, v in {
            "Type": inst.get("instanceType"), "ImageId": inst.get("imageId"),
            "IpV4Addresses": [a for n in nics for a in (n.get("privateIpAddress"), n.get("publicIp")) if a],
            "VpcId": nics[0].get("vpcId"), "SubnetId": nics[0].get("subnetId"),
            "IamInstanceProfileArn": (inst.get("iamInstanceProfile") or {}).get("arn"),
            "LaunchedAt": inst.get("launchTime")}.items() if v}
        out.append({"Type": "AwsEc2Instance", "Id": f"arn:aws:ec2:{region}:{account}:instance/{inst['instanceId']}",
                    "Partition": "aws", "Region": region,
                    "Tags": {t["key"]: t["value"] for t in inst.get("tags") or []},
                    "Details": {"AwsEc2Instance": details}})
    if res.get("accessKeyDetails"):
        key = res["accessKeyDetails"]
        out.append({"Type": "AwsIamAccessKey", "Id": f"AWS::IAM::AccessKey:{key['accessKeyId']}",
                    "Partition": "aws", "Region": region,
                    "Details": {"AwsIamAccessKey": {"PrincipalId": key.get("principalId"),
                                                    "PrincipalType": key.get("userType"),
                                                    "PrincipalName": key.get("userName")}}})
    objects = []   # a Malware Protection for S3 finding's resource is the object, then its bucket
    for bucket in res.get("s3BucketDetails") or []:
        out.append({"Type": "AwsS3Bucket", "Id": bucket["arn"], "Partition": "aws", "Region": region,
                    "Details": {"AwsS3Bucket": {"OwnerId": (bucket.get("owner") or {}).get("id")}}})
        objects += [{"Type": "AwsS3Object", "Id": obj["objectArn"], "Partition": "aws", "Region": region,
                     "Details": {"AwsS3Object": _present({"ETag": obj.get("eTag"), "VersionId": obj.get("versionId")})}}
                    for obj in bucket.get("s3ObjectDetails") or []]
    out[:0] = objects
    out += _compute_resources(res, region)
    return out


def _present(values: dict) -> dict:
    return {k: v for k, v in values.items() if v not in (None, "", [], {})}


def _container(container: dict) -> dict:
    return {"Type": "Container", "Id": container.get("id") or container.get("name") or "unknown",
            "Partition": "aws", "Details": {"Container": _present({
                "ContainerRuntime": container.get("containerRuntime"), "Name": container.get("name"),
                "ImageName": container.get("image"),
                "Privileged": (container.get("securityContext") or {}).get("privileged")})}}


def _compute_resources(res: dict, region: str) -> list[dict]:
    """The resources of the later protection plans: clusters, containers, databases, functions, scanned volumes,
    backups."""
    out: list[dict] = []
    if res.get("eksClusterDetails"):
        eks = res["eksClusterDetails"]
        out.append({"Type": "AwsEksCluster", "Id": eks["arn"], "Partition": "aws", "Region": region,
                    "Details": {"AwsEksCluster": _present({"Arn": eks.get("arn"), "Name": eks.get("name"),
                                                           "ClusterStatus": eks.get("status")})}})
    for container in ((res.get("kubernetesDetails") or {}).get("kubernetesWorkloadDetails") or {}).get("containers") or []:
        out.append(_container(container))
    if res.get("ecsClusterDetails"):
        ecs = res["ecsClusterDetails"]
        out.append({"Type": "AwsEcsCluster", "Id": ecs["arn"], "Partition": "aws", "Region": region,
                    "Details": {"AwsEcsCluster": _present({
                        "ClusterArn": ecs.get("arn"), "ClusterName": ecs.get("name"), "Status": ecs.get("status"),
                        "ActiveServicesCount": ecs.get("activeServicesCount"),
                        "RegisteredContainerInstancesCount": ecs.get("registeredContainerInstancesCount"),
                        "RunningTasksCount": ecs.get("runningTasksCount")})}})
        for container in (ecs.get("taskDetails") or {}).get("containers") or []:
            out.append(_container(container))
    if res.get("containerDetails"):
        out.append(_container(res["containerDetails"]))
    if res.get("rdsDbInstanceDetails"):
        db = res["rdsDbInstanceDetails"]
        out.append({"Type": "AwsRdsDbInstance", "Id": db["dbInstanceArn"], "Partition": "aws", "Region": region,
                    "Details": {"AwsRdsDbInstance": _present({
                        "DBInstanceIdentifier": db.get("dbInstanceIdentifier"),
                        "DBClusterIdentifier": db.get("dbClusterIdentifier"), "DbiResourceId": db.get("dbiResourceId"),
                        "Engine": db.get("engine"), "EngineVersion": db.get("engineVersion")})}})
    if res.get("lambdaDetails"):
        fn = res["lambdaDetails"]
        out.append({"Type": "AwsLambdaFunction", "Id": fn["functionArn"], "Partition": "aws", "Region": region,
                    "Details": {"AwsLambdaFunction": _present({
                        "FunctionName": fn.get("functionName"), "Role": fn.get("role"),
                        "RevisionId": fn.get("revisionId"), "Version": fn.get("functionVersion")})}})
    for volume in (res.get("ebsVolumeDetails") or {}).get("scannedVolumeDetails") or []:
        out.append({"Type": "AwsEc2Volume", "Id": volume["volumeArn"], "Partition": "aws", "Region": region,
                    "Details": {"AwsEc2Volume": _present({
                        "DeviceName": volume.get("deviceName"), "Size": volume.get("volumeSizeInGB"),
                        "VolumeType": volume.get("volumeType"), "VolumeId": volume["volumeArn"].rsplit("/", 1)[-1],
                        "Encrypted": volume.get("encryptionType") not in (None, "UNENCRYPTED")})}})
    for key, arn in (("ebsSnapshotDetails", "snapshotArn"), ("ec2ImageDetails", "imageArn"),
                     ("recoveryPointDetails", "recoveryPointArn")):
        if res.get(key):
            out.append({"Type": "Other", "Id": res[key][arn], "Partition": "aws", "Region": region,
                        "Details": {"Other": {"resourceType": res.get("resourceType", "")}}})
    return out


def _network(finding: dict) -> dict | None:
    conn = ((finding.get("service") or {}).get("action") or {}).get("networkConnectionAction")
    if not conn:
        return None
    inbound = conn.get("connectionDirection") == "INBOUND"
    remote = (conn.get("remoteIpDetails") or {}).get("ipAddressV4")
    local = (conn.get("localIpDetails") or {}).get("ipAddressV4")
    remote_port = (conn.get("remotePortDetails") or {}).get("port")
    local_port = (conn.get("localPortDetails") or {}).get("port")
    src, src_port, dst, dst_port = (remote, remote_port, local, local_port) if inbound else \
        (local, local_port, remote, remote_port)
    return {k: v for k, v in {"Direction": "IN" if inbound else "OUT", "Protocol": conn.get("protocol"),
                              "SourceIpV4": src, "SourcePort": src_port, "DestinationIpV4": dst,
                              "DestinationPort": dst_port}.items() if v is not None}


def from_guardduty(finding: dict, now_iso: str) -> dict:
    """The ASFF finding GuardDuty sends Security Hub for a GuardDuty finding (wire format)."""
    region, account = finding["region"], finding["accountId"]
    service = finding.get("service") or {}
    fields: dict[str, str] = {}
    _flatten("aws/guardduty/service", {k: v for k, v in service.items() if k != "additionalInfo"}, fields)
    info = service.get("additionalInfo") or {}
    try:
        extra = json.loads(info.get("value") or "{}")
    except ValueError:
        extra = {}
    _flatten("aws/guardduty/service/additionalInfo", extra if isinstance(extra, dict) else {}, fields)
    types = asff_types(finding["type"])
    severity = float(finding["severity"])
    out = {
        "SchemaVersion": SCHEMA_VERSION, "Id": finding["arn"], "ProductArn": product_arn(region),
        "ProductName": "GuardDuty", "CompanyName": "Amazon", "Region": region,
        "GeneratorId": finding["arn"].split("/finding/")[0], "AwsAccountId": account, "Types": types,
        "FirstObservedAt": service.get("eventFirstSeen"), "LastObservedAt": service.get("eventLastSeen"),
        "CreatedAt": finding["createdAt"], "UpdatedAt": finding["updatedAt"],
        "Severity": {"Product": severity, "Label": label(severity), "Normalized": int(round(severity * 10))},
        "Title": finding.get("title"), "Description": finding.get("description"),
        "SourceUrl": f"https://console.aws.amazon.com/guardduty/home?region={region}#/findings?macros=current"
                     f"&fId={finding['id']}",
        "ProductFields": {**fields, "aws/securityhub/FindingId": finding["arn"],
                          "aws/securityhub/ProductName": "GuardDuty", "aws/securityhub/CompanyName": "Amazon"},
        "Resources": _resources(finding),
        "WorkflowState": "NEW", "Workflow": {"Status": "NEW"},
        "RecordState": "ARCHIVED" if service.get("archived") else "ACTIVE",
        "FindingProviderFields": {"Severity": {"Label": label(severity), "Original": f"{finding['severity']}"},
                                  "Types": types},
        "Sample": bool(extra.get("sample")) if isinstance(extra, dict) else False,
        "ProcessedAt": now_iso,
    }
    network = _network(finding)
    if network:
        out["Network"] = network
    return {k: v for k, v in out.items() if v is not None}


def problems(finding: Any) -> str | None:
    """Why BatchImportFindings rejects a finding (its FailedFindings message), or None."""
    prefix = "Finding does not adhere to Amazon Security Finding Format."
    if not isinstance(finding, dict):
        return f"{prefix} data should be object"
    for name in REQUIRED:
        if finding.get(name) in (None, "", []):
            return f"{prefix} data should have required property '{name}'"
    for name in ("SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "CreatedAt", "UpdatedAt",
                 "Title", "Description"):
        if not isinstance(finding[name], str):
            return f"{prefix} data.{name} should be string"
    if finding["SchemaVersion"] != SCHEMA_VERSION:
        return f"{prefix} data.SchemaVersion should be equal to one of the allowed values ({SCHEMA_VERSION})"
    if not (isinstance(finding["Types"], list) and all(isinstance(t, str) and t.count("/") <= 2
                                                       for t in finding["Types"])):
        return f"{prefix} data.Types should be array of 'namespace/category/classifier' strings"
    severity = finding["Severity"]
    if not isinstance(severity, dict) or not ({"Label", "Normalized"} & set(severity)):
        return f"{prefix} data.Severity should have required property 'Label'"
    if "Label" in severity and severity["Label"] not in LABELS:
        return f"{prefix} data.Severity.Label should be equal to one of the allowed values"
    resources = finding["Resources"]
    if not isinstance(resources, list) or not all(isinstance(r, dict) and isinstance(r.get("Type"), str)
                                                  and isinstance(r.get("Id"), str) for r in resources):
        return f"{prefix} data.Resources should be array of objects with Type and Id"
    if len(finding["Title"]) > 256:
        return f"{prefix} data.Title should NOT be longer than 256 characters"
    for name in ("CreatedAt", "UpdatedAt", "FirstObservedAt", "LastObservedAt"):
        if name in finding and not _is_timestamp(finding[name]):
            return f"{prefix} data.{name} should match format \"date-time\""
    return None


def _is_timestamp(value: Any) -> bool:
    from datetime import datetime

    try:
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return "T" in str(value)
    except ValueError:
        return False
