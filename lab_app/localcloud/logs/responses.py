"""Parse CloudWatch Logs JSON 1.1 requests and serialise the backend's answers (no logic here)."""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Callable

from lab_app.localcloud.logs import exceptions as exc
from lab_app.localcloud.logs.models import LogsBackend, _group_name_from_identifier, _token, _untoken
from lab_app.localcloud.logs.resource_policies import ResourcePolicies


def _req(body: dict, key: str) -> Any:
    value = body.get(key)
    if value is None:
        raise exc.InvalidParameterException(f"1 validation error detected: Value null at '{key}' failed to satisfy "
                                            "constraint: Member must not be null")
    return value


# Who is calling: set by the component for each request. ``CALLER.get()(action, resource)`` raises the IAM
# denial when the caller's policies do not allow ``action`` (logs:Unmask is checked inside operations).
CALLER: ContextVar[Callable[[str, str], None]] = ContextVar("logs_caller", default=lambda action, resource: None)


def _unmask(body: dict, region: str, group: str | None = None) -> bool:
    """The ``unmask`` flag; when true, the caller must be allowed logs:Unmask."""
    value = body.get("unmask")
    if value is not None and not isinstance(value, bool):
        raise exc.InvalidParameterException.constraint("unmask", value, "Member must be a boolean")
    if value:
        resource = _arn_of(region, group) if group else "*"
        CALLER.get()("logs:Unmask", resource)
    return bool(value)


def _arn_of(region: str, group: str) -> str:
    from lab_app.localcloud.logs.models import _arn

    return _arn(region, group)


def _group(body: dict, backend: LogsBackend, region: str) -> str:
    return backend._group_for(region, body.get("logGroupName"), body.get("logGroupIdentifier"))


class LogsResponses:
    """One method per operation: request dict in, response dict out."""

    def __init__(self, backend: LogsBackend, resource_policies: ResourcePolicies | None = None):
        self.backend = backend
        self.resource_policies = resource_policies

    def CreateLogGroup(self, region, body):
        self.backend.create_log_group(region, _req(body, "logGroupName"), body.get("kmsKeyId"), body.get("logGroupClass"))
        if body.get("tags"):
            self.backend.tag_group(region, body["logGroupName"], body["tags"])
        if body.get("deletionProtectionEnabled"):
            self.group_settings.protect(region, body["logGroupName"], True)
        return {}

    def TagLogGroup(self, region, body):
        self.backend.tag_group(region, _req(body, "logGroupName"), _req(body, "tags"))
        return {}

    def UntagLogGroup(self, region, body):
        self.backend.untag_group(region, _req(body, "logGroupName"), _req(body, "tags"))
        return {}

    def ListTagsLogGroup(self, region, body):
        return {"tags": self.backend.list_tags(region, _req(body, "logGroupName"))}

    def TagResource(self, region, body):
        if ":destination:" in _req(body, "resourceArn"):      # a Logs destination (destinations.py)
            self.destinations.tag(body["resourceArn"], _req(body, "tags"))
            return {}
        r, group = self.backend.group_from_arn(region, _req(body, "resourceArn"))
        self.backend.tag_group(r, group, _req(body, "tags"))
        return {}

    def UntagResource(self, region, body):
        if ":destination:" in _req(body, "resourceArn"):
            self.destinations.untag(body["resourceArn"], _req(body, "tagKeys"))
            return {}
        r, group = self.backend.group_from_arn(region, _req(body, "resourceArn"))
        self.backend.untag_group(r, group, _req(body, "tagKeys"))
        return {}

    def ListTagsForResource(self, region, body):
        if ":destination:" in _req(body, "resourceArn"):
            return {"tags": self.destinations.tags(body["resourceArn"])}
        r, group = self.backend.group_from_arn(region, _req(body, "resourceArn"))
        return {"tags": self.backend.list_tags(r, group)}

    def DescribeSubscriptionFilters(self, region, body):
        limit = self.backend._limit(body.get("limit"), 50)
        offset = int(_untoken(body["nextToken"])) if body.get("nextToken") else 0
        filters, more = self.subscriptions.describe(region, _req(body, "logGroupName"), body.get("filterNamePrefix"),
                                                    limit, offset)
        return {"subscriptionFilters": filters, **({"nextToken": _token(offset + limit)} if more else {})}

    def DeleteLogGroup(self, region, body):
        self.group_settings.check_delete(region, _req(body, "logGroupName"))   # deletion protection
        self.backend.delete_log_group(region, _req(body, "logGroupName"))
        self.subscriptions.forget_group(region, body["logGroupName"])
        self.group_settings.forget_group(region, body["logGroupName"])
        return {}

    def DescribeLogGroups(self, region, body):
        groups, token = self.backend.describe_log_groups(
            region, body.get("logGroupNamePrefix"), body.get("logGroupNamePattern"), body.get("limit"),
            body.get("nextToken"))
        protected = self.group_settings.protected(region)
        for g in groups:
            g["deletionProtectionEnabled"] = g["logGroupName"] in protected
        return {"logGroups": groups, **({"nextToken": token} if token else {})}

    def PutRetentionPolicy(self, region, body):
        self.backend.put_retention_policy(region, _req(body, "logGroupName"), _req(body, "retentionInDays"))
        return {}

    def DeleteRetentionPolicy(self, region, body):
        self.backend.delete_retention_policy(region, _req(body, "logGroupName"))
        return {}

    def CreateLogStream(self, region, body):
        self.backend.create_log_stream(region, _req(body, "logGroupName"), _req(body, "logStreamName"))
        return {}

    def DeleteLogStream(self, region, body):
        self.backend.delete_log_stream(region, _req(body, "logGroupName"), _req(body, "logStreamName"))
        return {}

    def DescribeLogStreams(self, region, body):
        streams, token = self.backend.describe_log_streams(
            region, _group(body, self.backend, region), body.get("logStreamNamePrefix"), body.get("orderBy"),
            bool(body.get("descending")), body.get("limit"), body.get("nextToken"))
        return {"logStreams": streams, **({"nextToken": token} if token else {})}

    def PutLogEvents(self, region, body):
        return self.backend.put_log_events(region, _req(body, "logGroupName"), _req(body, "logStreamName"),
                                           _req(body, "logEvents"))

    def GetLogEvents(self, region, body):
        group = _group(body, self.backend, region)
        return self.backend.get_log_events(
            region, group, _req(body, "logStreamName"), body.get("startTime"),
            body.get("endTime"), body.get("nextToken"), body.get("limit"), body.get("startFromHead"),
            _unmask(body, region, group))

    def FilterLogEvents(self, region, body):
        group = _group(body, self.backend, region)
        return self.backend.filter_log_events(
            region, group, body.get("logStreamNames"), body.get("logStreamNamePrefix"),
            body.get("startTime"), body.get("endTime"), body.get("filterPattern"), body.get("nextToken"),
            body.get("limit"), _unmask(body, region, group))

    def PutMetricFilter(self, region, body):
        self.backend.put_metric_filter(region, _req(body, "logGroupName"), _req(body, "filterName"),
                                       body.get("filterPattern", ""), _req(body, "metricTransformations"))
        return {}

    def DescribeMetricFilters(self, region, body):
        filters, token = self.backend.describe_metric_filters(
            region, body.get("logGroupName"), body.get("filterNamePrefix"), body.get("metricName"),
            body.get("metricNamespace"), body.get("limit"), body.get("nextToken"))
        return {"metricFilters": filters, **({"nextToken": token} if token else {})}

    def DeleteMetricFilter(self, region, body):
        self.backend.delete_metric_filter(region, _req(body, "logGroupName"), _req(body, "filterName"))
        return {}

    def TestMetricFilter(self, region, body):
        return {"matches": self.backend.test_metric_filter(body.get("filterPattern", ""),
                                                           _req(body, "logEventMessages"))}

    def StartQuery(self, region, body):
        # queryLanguage (Insights discovery and saved queries): the SQL subset in logs/sql, the PPL one in logs/ppl
        language, parsed = body.get("queryLanguage") or "CWLI", None
        if language == "PPL" and isinstance(body.get("queryString"), str) and body["queryString"].strip():
            from lab_app.localcloud.logs import ppl

            parsed = ppl.parse(body["queryString"])
        given = [k for k in ("logGroupName", "logGroupNames", "logGroupIdentifiers") if body.get(k)]
        if language == "SQL":
            if given:
                raise exc.InvalidParameterException(
                    f"With queryLanguage SQL the log groups are named in the query's FROM clause, not in {given[0]}.")
            from lab_app.localcloud.logs import sql

            text = _req(body, "queryString")
            parsed = sql.parse(text) if isinstance(text, str) and text.strip() else None  # empty: the backend says so
            groups = [_group_name_from_identifier(g) for g in parsed.groups] if parsed else []
            if groups == [sql.ALL_GROUPS[0]]:     # FROM `filterIndex(...)`: the Region's groups, then the indexed
                groups = self.backend.group_names(region)
        elif len(given) != 1:
            raise exc.InvalidParameterException(
                "Specify exactly one of logGroupName, logGroupNames or logGroupIdentifiers.")
        elif body.get("logGroupName"):
            groups = [body["logGroupName"]]
        elif body.get("logGroupNames"):
            groups = list(body["logGroupNames"])
        else:
            groups = [_group_name_from_identifier(i) for i in body["logGroupIdentifiers"]]
        caller = CALLER.get()
        arns = ", ".join(_arn_of(region, g) for g in groups)
        query_id = self.backend.start_query(region, groups, body.get("startTime"), body.get("endTime"),
                                            _req(body, "queryString"), body.get("limit"),
                                            authorize_unmask=lambda: caller("logs:Unmask", arns),
                                            parsed_query=getattr(parsed, "query", parsed), query_language=language)
        return {"queryId": query_id}

    def GetQueryResults(self, region, body):
        return self.backend.get_query_results(region, _req(body, "queryId"))

    def GetLogRecord(self, region, body):
        pointer = _req(body, "logRecordPointer")
        return {"logRecord": self.backend.get_log_record(region, pointer, _unmask(body, region))}

    def StopQuery(self, region, body):
        return {"success": self.backend.stop_query(region, _req(body, "queryId"))}

    def DescribeQueries(self, region, body):
        queries, token = self.backend.describe_queries(region, body.get("logGroupName"), body.get("status"),
                                                       body.get("maxResults"), body.get("nextToken"))
        return {"queries": queries, **({"nextToken": token} if token else {})}

    def PutDataProtectionPolicy(self, region, body):
        return self.backend.put_data_protection_policy(region, _req(body, "logGroupIdentifier"),
                                                       _req(body, "policyDocument"))

    def GetDataProtectionPolicy(self, region, body):
        return self.backend.get_data_protection_policy(region, _req(body, "logGroupIdentifier"))

    def DeleteDataProtectionPolicy(self, region, body):
        self.backend.delete_data_protection_policy(region, _req(body, "logGroupIdentifier"))
        return {}

    def PutAccountPolicy(self, region, body):
        if body.get("policyType") == "DATA_PROTECTION_POLICY":
            # AWS: a data protection account policy needs logs:PutDataProtectionPolicy besides logs:PutAccountPolicy
            CALLER.get()("logs:PutDataProtectionPolicy", "*")
        return self.backend.put_account_policy(region, _req(body, "policyName"), _req(body, "policyDocument"),
                                               _req(body, "policyType"), body.get("scope"),
                                               body.get("selectionCriteria"))

    def DescribeAccountPolicies(self, region, body):
        return {"accountPolicies": self.backend.describe_account_policies(region, _req(body, "policyType"),
                                                                          body.get("policyName"))}

    def DeleteAccountPolicy(self, region, body):
        self.backend.delete_account_policy(region, _req(body, "policyName"), _req(body, "policyType"))
        return {}

    def PutResourcePolicy(self, region, body):
        return self.resource_policies.put(region, body.get("policyName"), body.get("policyDocument"),
                                          body.get("resourceArn"), body.get("expectedRevisionId"))

    def DescribeResourcePolicies(self, region, body):
        return self.resource_policies.describe(region, body.get("limit"), body.get("nextToken"))

    def DeleteResourcePolicy(self, region, body):
        self.resource_policies.delete(region, body.get("policyName"), body.get("expectedRevisionId"))
        return {}

    # ---- subscriptions, destinations, export tasks, group settings, live tail (issue 17, i17-logsa) --------
    # set by the component: subscriptions, destinations, exports, group_settings, live_tail
    subscriptions = destinations = exports = group_settings = live_tail = deliveries = None

    def _page(self, body: dict, newer: bool = False) -> tuple[int, int]:
        """(limit, offset); ``newer``: an API that answers bad input with ValidationException (deliveries)."""
        try:
            limit = self.backend._limit(body.get("limit"), 50)
            return limit, (int(_untoken(body["nextToken"])) if body.get("nextToken") else 0)
        except exc.InvalidParameterException as e:
            if newer:
                raise exc.ValidationException(e.message) from None
            raise

    def PutSubscriptionFilter(self, region, body):
        self.subscriptions.put(region, body)
        return {}

    def DeleteSubscriptionFilter(self, region, body):
        self.subscriptions.delete(region, _req(body, "logGroupName"), _req(body, "filterName"))
        return {}

    def PutDestination(self, region, body):
        return self.destinations.put(region, _req(body, "destinationName"), _req(body, "targetArn"),
                                     _req(body, "roleArn"), body.get("tags"))

    def DescribeDestinations(self, region, body):
        limit, offset = self._page(body)
        found, more = self.destinations.describe(region, body.get("DestinationNamePrefix"), limit, offset)
        return {"destinations": found, **({"nextToken": _token(offset + limit)} if more else {})}

    def DeleteDestination(self, region, body):
        self.destinations.delete(region, _req(body, "destinationName"))
        return {}

    def PutDestinationPolicy(self, region, body):
        self.destinations.put_policy(region, _req(body, "destinationName"), _req(body, "accessPolicy"))
        return {}

    def CreateExportTask(self, region, body):
        return {"taskId": self.exports.create(region, body)}

    def DescribeExportTasks(self, region, body):
        limit, offset = self._page(body)
        tasks, more = self.exports.describe(region, body.get("taskId"), body.get("statusCode"), limit, offset)
        return {"exportTasks": tasks, **({"nextToken": _token(offset + limit)} if more else {})}

    def CancelExportTask(self, region, body):
        self.exports.cancel(region, _req(body, "taskId"))
        return {}

    def ListLogGroups(self, region, body):
        limit = self.backend._limit(body.get("limit"), 1000)
        after = str(_untoken(body["nextToken"])) if body.get("nextToken") else ""
        groups, last = self.group_settings.list(region, body.get("logGroupNamePattern"), body.get("logGroupClass"),
                                                limit, after)
        return {"logGroups": groups, **({"nextToken": _token(last)} if last else {})}

    def PutLogGroupDeletionProtection(self, region, body):
        group = _group_name_from_identifier(_req(body, "logGroupIdentifier"))
        self.group_settings.protect(region, group, bool(_req(body, "deletionProtectionEnabled")))
        return {}

    def _kms_group(self, body: dict) -> str:
        if body.get("resourceIdentifier"):
            raise exc.InvalidParameterException("The local cloud associates KMS keys with log groups only: use "
                                                "logGroupName (query-result resourceIdentifiers are not kept).")
        return _req(body, "logGroupName")

    def AssociateKmsKey(self, region, body):
        self.group_settings.associate(region, self._kms_group(body), _req(body, "kmsKeyId"))
        return {}

    def DisassociateKmsKey(self, region, body):
        self.group_settings.disassociate(region, self._kms_group(body))
        return {}

    def StartLiveTail(self, region, body):
        return self.live_tail.start(region, body)

    def _listed(self, key: str, found: tuple[list, bool], limit: int, offset: int) -> dict:
        items, more = found
        return {key: items, **({"nextToken": _token(offset + limit)} if more else {})}

    def PutDeliverySource(self, region, body):
        return self.deliveries.put_source(region, body)

    def GetDeliverySource(self, region, body):
        return {"deliverySource": self.deliveries.get_source(region, _req(body, "name"))}

    def DescribeDeliverySources(self, region, body):
        limit, offset = self._page(body, newer=True)
        return self._listed("deliverySources", self.deliveries.describe_sources(region, limit, offset), limit, offset)

    def DeleteDeliverySource(self, region, body):
        self.deliveries.delete_source(region, _req(body, "name"))
        return {}

    def PutDeliveryDestination(self, region, body):
        return self.deliveries.put_destination(region, body)

    def GetDeliveryDestination(self, region, body):
        return {"deliveryDestination": self.deliveries.get_destination(region, _req(body, "name"))}

    def DescribeDeliveryDestinations(self, region, body):
        limit, offset = self._page(body, newer=True)
        return self._listed("deliveryDestinations", self.deliveries.describe_destinations(region, limit, offset),
                            limit, offset)

    def DeleteDeliveryDestination(self, region, body):
        self.deliveries.delete_destination(region, _req(body, "name"))
        return {}

    def PutDeliveryDestinationPolicy(self, region, body):
        return self.deliveries.put_destination_policy(region, _req(body, "deliveryDestinationName"),
                                                      _req(body, "deliveryDestinationPolicy"))

    def GetDeliveryDestinationPolicy(self, region, body):
        return self.deliveries.get_destination_policy(region, _req(body, "deliveryDestinationName"))

    def DeleteDeliveryDestinationPolicy(self, region, body):
        self.deliveries.delete_destination_policy(region, _req(body, "deliveryDestinationName"))
        return {}

    def CreateDelivery(self, region, body):
        return self.deliveries.create(region, body)

    def GetDelivery(self, region, body):
        return {"delivery": self.deliveries.get(region, _req(body, "id"))}

    def DescribeDeliveries(self, region, body):
        limit, offset = self._page(body, newer=True)
        return self._listed("deliveries", self.deliveries.describe(region, limit, offset), limit, offset)

    def UpdateDeliveryConfiguration(self, region, body):
        self.deliveries.update(region, body)
        return {}

    def DeleteDelivery(self, region, body):
        self.deliveries.delete(region, _req(body, "id"))
        return {}
    # ---- Insights discovery and saved queries: query_definitions, fields, index_policies; anomaly_detectors;
    # transformers
    query_definitions = None    # set by the component
    fields = None
    index_policies = None
    anomaly_detectors = None
    transformers = None

    def PutQueryDefinition(self, region, body):
        return self.query_definitions.put(region, body)

    def DescribeQueryDefinitions(self, region, body):
        return self.query_definitions.describe(region, body)

    def DeleteQueryDefinition(self, region, body):
        return self.query_definitions.delete(region, _req(body, "queryDefinitionId"))

    def GetLogGroupFields(self, region, body):
        return self.fields.log_group_fields(region, body)

    def GetLogFields(self, region, body):
        return self.fields.log_fields(region, body)

    def PutIndexPolicy(self, region, body):
        return self.index_policies.put(region, _req(body, "logGroupIdentifier"), _req(body, "policyDocument"))

    def DescribeIndexPolicies(self, region, body):
        return self.index_policies.describe(region, _req(body, "logGroupIdentifiers"), body.get("nextToken"))

    def DeleteIndexPolicy(self, region, body):
        self.index_policies.delete(region, _req(body, "logGroupIdentifier"))
        return {}

    def DescribeFieldIndexes(self, region, body):
        return self.index_policies.field_indexes(region, _req(body, "logGroupIdentifiers"), body.get("nextToken"))

    def ListLogGroupsForQuery(self, region, body):
        return self.backend.log_groups_for_query(region, _req(body, "queryId"), body.get("maxResults"),
                                                 body.get("nextToken"))

    def CreateLogAnomalyDetector(self, region, body):
        return self.anomaly_detectors.create(region, body)

    def GetLogAnomalyDetector(self, region, body):
        return self.anomaly_detectors.get(region, _req(body, "anomalyDetectorArn"))

    def ListLogAnomalyDetectors(self, region, body):
        return self.anomaly_detectors.list(region, body)

    def UpdateLogAnomalyDetector(self, region, body):
        _req(body, "anomalyDetectorArn")
        self.anomaly_detectors.update(region, body)
        return {}

    def DeleteLogAnomalyDetector(self, region, body):
        self.anomaly_detectors.delete(region, _req(body, "anomalyDetectorArn"))
        return {}

    def ListAnomalies(self, region, body):
        return self.anomaly_detectors.list_anomalies(region, body)

    def UpdateAnomaly(self, region, body):
        _req(body, "anomalyDetectorArn")
        self.anomaly_detectors.update_anomaly(region, body)
        return {}

    def PutTransformer(self, region, body):
        self.transformers.put(region, _req(body, "logGroupIdentifier"), _req(body, "transformerConfig"))
        return {}

    def GetTransformer(self, region, body):
        return self.transformers.get(region, _req(body, "logGroupIdentifier"))

    def DeleteTransformer(self, region, body):
        self.transformers.delete(region, _req(body, "logGroupIdentifier"))
        return {}

    def TestTransformer(self, region, body):
        return self.transformers.test(_req(body, "transformerConfig"), _req(body, "logEventMessages"))

    def handler(self, operation: str) -> Callable | None:
        from lab_app.localcloud.logs.urls import OPERATIONS

        return getattr(self, operation) if operation in OPERATIONS else None

