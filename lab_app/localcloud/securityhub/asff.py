"""The AWS Security Finding Format (ASFF, SchemaVersion 2018-10-08): what GuardDuty sends Security Hub, and the
checks BatchImportFindings applies to a finding.

GuardDuty's mapping (Security Hub user guide, "Amazon GuardDuty" integration, and the GuardDuty user guide's
"Integrating GuardDuty with Security Hub"): Id is the finding ARN, GeneratorId the detector ARN, ProductArn
``arn:aws:securityhub:<region>::product/aws/guardduty``, Severity.Product the GuardDuty severity, Severity.Label
LOW (1.0-3.9), MEDIUM (4.0-6.9), HIGH (7.0-8.9), CRITICAL (9.0-10.0), Severity.Normalized = severity x 10, the
service block flattened into ProductFields under ``aws/guardduty/service/...``, the resource as AwsEc2Instance /
AwsIamAccessKey / AwsS3Bucket, Network from a network-connection action, Sample for sample findings. Types is
``<namespace>/<category>/<GuardDuty type with / as ->``; the namespace and category come from the finding's
threat purpose here (AWS maps each finding type individually).
"""
from __future__ import annotations

import json
from typing import Any

SCHEMA_VERSION = "2018-10-08"
REQUIRED = ("SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "Types", "CreatedAt", "UpdatedAt",
            "Severity", "Title", "Description", "Resources")
LABELS = ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL")
WORKFLOW = ("NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED")
CATEGORY = {
    "Backdoor": "TTPs/Command and Control", "Behavior": "Unusual Behaviors/VM",
    "CredentialAccess": "TTPs/Credential Access", "CryptoCurrency": "Effects/Resource Consumption",
    "Discovery": "TTPs/Discovery",
    "Exfiltration": "Effects/Data Exfiltration", "Impact": "Effects/Data Destruction", "PenTest": "TTPs/Discovery",
    "Persistence": "TTPs/Persistence", "Policy": "Software and Configuration Checks/AWS Security Best Practices",
    "PrivilegeEscalation": "TTPs/Privilege Escalation", "Recon": "TTPs/Discovery",
    "ResourceConsumption": "Effects/Resource Consumption", "Stealth": "TTPs/Defense Evasion",
    "Trojan": "TTPs/Command and Control", "UnauthorizedAccess": "TTPs/Initial Access",
}


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
    for bucket in res.get("s3BucketDetails") or []:
        out.append({"Type": "AwsS3Bucket", "Id": bucket["arn"], "Partition": "aws", "Region": region,
                    "Details": {"AwsS3Bucket": {"OwnerId": (bucket.get("owner") or {}).get("id")}}})
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


def from_guardduty(finding: dict, threat_purpose: str, now_iso: str) -> dict:
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
    asff_type = f"{CATEGORY.get(threat_purpose, 'TTPs')}/{finding['type'].replace('/', '-')}"
    severity = float(finding["severity"])
    out = {
        "SchemaVersion": SCHEMA_VERSION, "Id": finding["arn"], "ProductArn": product_arn(region),
        "ProductName": "GuardDuty", "CompanyName": "Amazon", "Region": region,
        "GeneratorId": finding["arn"].split("/finding/")[0], "AwsAccountId": account, "Types": [asff_type],
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
                                  "Types": [asff_type]},
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
