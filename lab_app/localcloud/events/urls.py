"""Routing table: the EventBridge operations answered here (JSON 1.1); moto serves the rest (rules, targets,
buses), whose state the router reads."""

TARGET_PREFIX = "AWSEvents."
OPERATIONS = ("PutEvents", "TestEventPattern", "PutRule")


def operation_of(environ: dict) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith(TARGET_PREFIX) and target[len(TARGET_PREFIX):] in OPERATIONS:
        return target[len(TARGET_PREFIX):]
    return None
