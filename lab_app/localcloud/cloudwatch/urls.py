"""Routing table: the CloudWatch operations (JSON 1.0, ``X-Amz-Target``) the local cloud intercepts; the rest
(and the state of these) is moto's."""

TARGET_PREFIX = "GraniteServiceVersion20100801."
OPERATIONS = ("DescribeAlarmHistory", "DescribeAlarms", "PutMetricAlarm", "PutCompositeAlarm", "SetAlarmState",
              "DeleteAlarms",
              # the metric store (metrics.py, metric_data.py) and dashboards (dashboards.py) answer these
              "PutMetricData", "GetMetricData", "GetMetricStatistics", "ListMetrics",
              "PutDashboard", "GetDashboard", "ListDashboards", "DeleteDashboards")


def operation_of(environ: dict) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith(TARGET_PREFIX) and target[len(TARGET_PREFIX):] in OPERATIONS:
        return target[len(TARGET_PREFIX):]
    return None
