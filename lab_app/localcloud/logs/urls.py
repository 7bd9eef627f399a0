"""Routing table: CloudWatch Logs is JSON 1.1, one POST per operation named in ``X-Amz-Target``."""

TARGET_PREFIX = "Logs_20140328."

OPERATIONS = (
    "CreateLogGroup", "DeleteLogGroup", "DescribeLogGroups", "PutRetentionPolicy", "DeleteRetentionPolicy",
    "CreateLogStream", "DeleteLogStream", "DescribeLogStreams", "PutLogEvents", "GetLogEvents", "FilterLogEvents",
    "PutMetricFilter", "DescribeMetricFilters", "DeleteMetricFilter", "TestMetricFilter",
    "TagLogGroup", "UntagLogGroup", "ListTagsLogGroup", "TagResource", "UntagResource", "ListTagsForResource",
    "DescribeSubscriptionFilters",
    "StartQuery", "GetQueryResults", "GetLogRecord", "StopQuery", "DescribeQueries",
    "PutDataProtectionPolicy", "GetDataProtectionPolicy", "DeleteDataProtectionPolicy",
    "PutAccountPolicy", "DescribeAccountPolicies", "DeleteAccountPolicy",
    "PutResourcePolicy", "DescribeResourcePolicies", "DeleteResourcePolicy",
    # subscriptions, destinations, export tasks, group settings, live tail (issue 17, i17-logsa)
    "PutSubscriptionFilter", "DeleteSubscriptionFilter",
    "PutDestination", "DescribeDestinations", "DeleteDestination", "PutDestinationPolicy",
    "CreateExportTask", "DescribeExportTasks", "CancelExportTask",
    "ListLogGroups", "PutLogGroupDeletionProtection", "AssociateKmsKey", "DisassociateKmsKey",
    "StartLiveTail",
    "PutDeliverySource", "GetDeliverySource", "DescribeDeliverySources", "DeleteDeliverySource",
    "PutDeliveryDestination", "GetDeliveryDestination", "DescribeDeliveryDestinations", "DeleteDeliveryDestination",
    "PutDeliveryDestinationPolicy", "GetDeliveryDestinationPolicy", "DeleteDeliveryDestinationPolicy",
    "CreateDelivery", "GetDelivery", "DescribeDeliveries", "UpdateDeliveryConfiguration", "DeleteDelivery",
    # Insights discovery and saved queries (query_definitions, fields, index_policies; ListLogGroupsForQuery),
    # anomaly detectors (anomaly_detectors), log transformers (transformers)
    "PutQueryDefinition", "DescribeQueryDefinitions", "DeleteQueryDefinition", "GetLogGroupFields", "GetLogFields",
    "PutIndexPolicy", "DescribeIndexPolicies", "DeleteIndexPolicy", "DescribeFieldIndexes", "ListLogGroupsForQuery",
    "CreateLogAnomalyDetector", "GetLogAnomalyDetector", "ListLogAnomalyDetectors", "UpdateLogAnomalyDetector",
    "DeleteLogAnomalyDetector", "ListAnomalies", "UpdateAnomaly",
    "PutTransformer", "GetTransformer", "DeleteTransformer", "TestTransformer",
)


def operation_of(environ: dict) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    return target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else None
