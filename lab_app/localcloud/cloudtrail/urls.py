"""Routing table: the one CloudTrail operation served here (JSON 1.1); moto serves the trail operations."""

TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
OPERATIONS = ("LookupEvents",)


def operation_of(environ: dict) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith(TARGET_PREFIX) and target[len(TARGET_PREFIX):] in OPERATIONS:
        return target[len(TARGET_PREFIX):]
    return None
