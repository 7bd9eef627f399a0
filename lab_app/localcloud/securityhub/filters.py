"""GetFindings' ``Filters`` (AwsSecurityFindingFilters) over ASFF findings.

Each filter name reads one ASFF field (``SeverityLabel`` -> ``Severity.Label``, ``ResourceType`` ->
``Resources[].Type``, ``ProductFields`` a map). Per the Security Hub API reference: StringFilter comparisons
EQUALS, PREFIX, CONTAINS (positive: any of them may hold) and NOT_EQUALS, PREFIX_NOT_EQUALS, NOT_CONTAINS
(negative: all must hold), the two groups ANDed; NumberFilter Gte/Lte/Gt/Lt/Eq; DateFilter Start/End or
DateRange (WITHIN/OLDER_THAN n DAYS); MapFilter Key + Value + EQUALS/NOT_EQUALS/CONTAINS/NOT_CONTAINS;
BooleanFilter Value; IpFilter Cidr. Different filter names are ANDed. A filter name of the API that reads a
field the local findings never carry (Malware*, Process*, ThreatIntel*, Compliance*...) finds no values there:
its positive comparisons select nothing, its negative ones everything, as on AWS for findings without the field.
"""
from __future__ import annotations

import ipaddress
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from lab_app.localcloud.securityhub.exceptions import InvalidInputException

FIELDS: dict[str, str] = {
    "ProductArn": "ProductArn", "AwsAccountId": "AwsAccountId", "Id": "Id", "GeneratorId": "GeneratorId",
    "Region": "Region", "Type": "Types", "FirstObservedAt": "FirstObservedAt", "LastObservedAt": "LastObservedAt",
    "CreatedAt": "CreatedAt", "UpdatedAt": "UpdatedAt", "SeverityProduct": "Severity.Product",
    "SeverityNormalized": "Severity.Normalized", "SeverityLabel": "Severity.Label", "Confidence": "Confidence",
    "Criticality": "Criticality", "Title": "Title", "Description": "Description", "SourceUrl": "SourceUrl",
    "ProductFields": "ProductFields", "ProductName": "ProductName", "CompanyName": "CompanyName",
    "UserDefinedFields": "UserDefinedFields", "NetworkDirection": "Network.Direction",
    "NetworkProtocol": "Network.Protocol", "NetworkSourceIpV4": "Network.SourceIpV4",
    "NetworkSourcePort": "Network.SourcePort", "NetworkDestinationIpV4": "Network.DestinationIpV4",
    "NetworkDestinationPort": "Network.DestinationPort", "ResourceType": "Resources.Type", "ResourceId": "Resources.Id",
    "ResourcePartition": "Resources.Partition", "ResourceRegion": "Resources.Region", "ResourceTags": "Resources.Tags",
    "ResourceAwsEc2InstanceType": "Resources.Details.AwsEc2Instance.Type",
    "ResourceAwsEc2InstanceImageId": "Resources.Details.AwsEc2Instance.ImageId",
    "ResourceAwsEc2InstanceIpV4Addresses": "Resources.Details.AwsEc2Instance.IpV4Addresses",
    "ResourceAwsEc2InstanceVpcId": "Resources.Details.AwsEc2Instance.VpcId",
    "ResourceAwsEc2InstanceSubnetId": "Resources.Details.AwsEc2Instance.SubnetId",
    "ResourceAwsIamAccessKeyPrincipalName": "Resources.Details.AwsIamAccessKey.PrincipalName",
    "ResourceAwsIamAccessKeyUserName": "Resources.Details.AwsIamAccessKey.UserName",
    "ResourceAwsIamAccessKeyStatus": "Resources.Details.AwsIamAccessKey.Status",
    "ResourceAwsS3BucketOwnerId": "Resources.Details.AwsS3Bucket.OwnerId",
    "VerificationState": "VerificationState", "WorkflowState": "WorkflowState", "WorkflowStatus": "Workflow.Status",
    "RecordState": "RecordState", "NoteText": "Note.Text", "NoteUpdatedAt": "Note.UpdatedAt",
    "NoteUpdatedBy": "Note.UpdatedBy", "Sample": "Sample", "AwsAccountName": "AwsAccountName",
    "FindingProviderFieldsSeverityLabel": "FindingProviderFields.Severity.Label",
    "FindingProviderFieldsSeverityOriginal": "FindingProviderFields.Severity.Original",
    "FindingProviderFieldsTypes": "FindingProviderFields.Types",
}
STRING_POSITIVE = ("EQUALS", "PREFIX", "CONTAINS", "CONTAINS_WORD")
STRING_NEGATIVE = ("NOT_EQUALS", "PREFIX_NOT_EQUALS", "NOT_CONTAINS")
MAP_COMPARISONS = ("EQUALS", "NOT_EQUALS", "CONTAINS", "NOT_CONTAINS")


@lru_cache(maxsize=1)
def api_filter_names() -> frozenset[str]:
    import botocore.session

    model = botocore.session.get_session().get_service_model("securityhub")
    return frozenset(model.shape_for("AwsSecurityFindingFilters").members)


def field_path(name: str) -> str:
    return FIELDS.get(name, f"__not_carried__.{name}")


def values_at(finding: dict, path: str) -> list:
    nodes: list = [finding]
    for part in path.split("."):
        nxt: list = []
        for node in nodes:
            value = node.get(part) if isinstance(node, dict) else None
            if isinstance(value, list):
                nxt.extend(value)
            elif value is not None:
                nxt.append(value)
        nodes = nxt
    return nodes


def _epoch(text: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _string_ok(value: str, comparison: str, wanted: str) -> bool:
    return {"EQUALS": value == wanted, "NOT_EQUALS": value != wanted, "PREFIX": value.startswith(wanted),
            "PREFIX_NOT_EQUALS": not value.startswith(wanted), "CONTAINS": wanted in value,
            "NOT_CONTAINS": wanted not in value, "CONTAINS_WORD": wanted in value.split()}[comparison]


def validate(filters: Any) -> dict:
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise InvalidInputException("Invalid parameter 'Filters'")
    for name, entries in filters.items():
        if name not in FIELDS and name not in api_filter_names():
            raise InvalidInputException(f"Invalid parameter 'Filters': {name} is not a supported filter field")
        if not isinstance(entries, list) or not 1 <= len(entries) <= 20:
            raise InvalidInputException(f"Invalid parameter 'Filters.{name}': must be a list of 1-20 filters")
        for entry in entries:
            if not isinstance(entry, dict) or not entry:
                raise InvalidInputException(f"Invalid parameter 'Filters.{name}'")
            comparison = entry.get("Comparison")
            if "Key" in entry and comparison not in MAP_COMPARISONS:
                raise InvalidInputException(f"Invalid parameter 'Filters.{name}.Comparison': {comparison}")
            if "Key" not in entry and "Comparison" in entry and comparison not in STRING_POSITIVE + STRING_NEGATIVE:
                raise InvalidInputException(f"Invalid parameter 'Filters.{name}.Comparison': {comparison}")
            if "Comparison" not in entry and isinstance(entry.get("Value"), str):
                raise InvalidInputException(f"Invalid parameter 'Filters.{name}': Comparison is required")
            if "Comparison" in entry and not isinstance(entry.get("Value"), str):
                raise InvalidInputException(f"Invalid parameter 'Filters.{name}.Value'")
            range_ = entry.get("DateRange")
            if range_ is not None and (not isinstance(range_, dict) or range_.get("Unit") != "DAYS"
                                       or not isinstance(range_.get("Value"), int)):
                raise InvalidInputException(f"Invalid parameter 'Filters.{name}.DateRange'")
            for key in ("Start", "End"):
                if key in entry and _epoch(entry[key]) is None:
                    raise InvalidInputException(f"Invalid parameter 'Filters.{name}.{key}': not a date")
            if "Cidr" in entry:
                try:
                    ipaddress.ip_network(entry["Cidr"], strict=False)
                except ValueError:
                    raise InvalidInputException(f"Invalid parameter 'Filters.{name}.Cidr'") from None
    return filters


def _entry_ok(values: list, entry: dict, now: float) -> bool:
    """One filter entry against a field's values (a negative entry holds when no value breaks it)."""
    comparison = entry.get("Comparison")
    if "Key" in entry:  # MapFilter
        maps = [v for v in values if isinstance(v, dict)]
        hits = [str(m[entry["Key"]]) for m in maps if entry["Key"] in m]
        if comparison == "EQUALS":
            return entry["Value"] in hits
        if comparison == "CONTAINS":
            return any(entry["Value"] in h for h in hits)
        if comparison == "NOT_EQUALS":
            return entry["Value"] not in hits
        return not any(entry["Value"] in h for h in hits)
    if comparison is not None:  # StringFilter
        strings = [str(v) for v in values if not isinstance(v, (dict, list))]
        if comparison in STRING_NEGATIVE:
            return all(_string_ok(s, comparison, entry["Value"]) for s in strings)
        return any(_string_ok(s, comparison, entry["Value"]) for s in strings)
    if "Value" in entry and isinstance(entry["Value"], bool):  # BooleanFilter
        return any(v is entry["Value"] for v in values) or (not entry["Value"] and not values)
    if "Cidr" in entry:  # IpFilter
        net = ipaddress.ip_network(entry["Cidr"], strict=False)
        return any(_in(v, net) for v in values)
    if {"Start", "End", "DateRange"} & set(entry):  # DateFilter
        stamps = [t for t in (_epoch(v) for v in values) if t is not None]
        start, end = _epoch(entry.get("Start")) if "Start" in entry else None, \
            _epoch(entry.get("End")) if "End" in entry else None
        if entry.get("DateRange"):
            days = entry["DateRange"]["Value"] * 86400
            if entry["DateRange"].get("Comparison") == "OLDER_THAN":
                end = now - days
            else:
                start = now - days
        return any((start is None or t >= start) and (end is None or t <= end) for t in stamps)
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]  # NumberFilter
    ops = {"Gte": lambda n, b: n >= b, "Lte": lambda n, b: n <= b, "Gt": lambda n, b: n > b,
           "Lt": lambda n, b: n < b, "Eq": lambda n, b: n == b}
    return any(all(ops[k](n, float(b)) for k, b in entry.items() if k in ops) for n in numbers)


def _in(value: Any, net) -> bool:
    try:
        return ipaddress.ip_address(str(value)) in net
    except ValueError:
        return False


def holds(finding: dict, filters: dict, now: float | None = None) -> bool:
    now = datetime.now(timezone.utc).timestamp() if now is None else now
    for name, entries in filters.items():
        values = values_at(finding, field_path(name))
        positive = [e for e in entries if e.get("Comparison") in STRING_POSITIVE or "Comparison" not in e
                    or ("Key" in e and e["Comparison"] in ("EQUALS", "CONTAINS"))]
        negative = [e for e in entries if e not in positive]
        if positive and not any(_entry_ok(values, e, now) for e in positive):
            return False
        if not all(_entry_ok(values, e, now) for e in negative):
            return False
    return True
