"""CloudWatch alarm evaluation: rules worked out by hand, then the component end to end with boto3.

The table cases are AWS's own examples ("Configuring how CloudWatch alarms treat missing data"):
five most recent periods, oldest first; X breaches, 0 does not, - is missing.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from lab_app.localcloud.cloudwatch.rules import aggregate, evaluate_datapoints, evaluation_range
from lab_app.localcloud.guard import TOKEN_HEADER
from lab_app.webhook import Webhook

RETAIN = None
THRESHOLD = 1.0


def _values(pattern: str) -> list[float | None]:
    return [{"X": 5.0, "0": 0.0, "-": None}[c] for c in pattern.split()]


def _state(pattern: str, n: int, m: int, tmd: str) -> str | None:
    return evaluate_datapoints(_values(pattern), threshold=THRESHOLD, comparison="GreaterThanOrEqualToThreshold",
                               evaluation_periods=n, datapoints_to_alarm=m, treat_missing_data=tmd).state


# (pattern, missing, ignore, breaching, notBreaching)
THREE_OF_THREE = [
    ("0 - X - X", "OK", "OK", "OK", "OK"),
    ("- - - - 0", "OK", "OK", "OK", "OK"),
    ("- - - - -", "INSUFFICIENT_DATA", RETAIN, "ALARM", "OK"),
    ("0 X X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("- - X - -", "ALARM", RETAIN, "ALARM", "OK"),
]
TWO_OF_THREE = [
    ("0 - X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 0 X 0 X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 - X - -", "OK", "OK", "ALARM", "OK"),
    ("- - - - 0", "OK", "OK", "ALARM", "OK"),
    ("- - - X -", "ALARM", RETAIN, "ALARM", "OK"),
]


@pytest.mark.parametrize("pattern,missing,ignore,breaching,not_breaching", THREE_OF_THREE)
def test_three_of_three_under_each_treat_missing_data(pattern, missing, ignore, breaching, not_breaching):
    assert _state(pattern, 3, 3, "missing") == missing
    assert _state(pattern, 3, 3, "ignore") == ignore
    assert _state(pattern, 3, 3, "breaching") == breaching
    assert _state(pattern, 3, 3, "notBreaching") == not_breaching


@pytest.mark.parametrize("pattern,missing,ignore,breaching,not_breaching", TWO_OF_THREE)
def test_two_of_three_under_each_treat_missing_data(pattern, missing, ignore, breaching, not_breaching):
    assert _state(pattern, 3, 2, "missing") == missing
    assert _state(pattern, 3, 2, "ignore") == ignore
    assert _state(pattern, 3, 2, "breaching") == breaching
    assert _state(pattern, 3, 2, "notBreaching") == not_breaching


def test_enough_real_datapoints_ignore_treat_missing_data_and_use_the_most_recent_n():
    # N=2, M=2: the two most recent real values are X, 0 -> only one breaches -> OK whatever the treatment
    for tmd in ("missing", "ignore", "breaching", "notBreaching"):
        assert _state("X X - X 0", 2, 2, tmd) == "OK"
    # the older X datapoints are outside the N most recent real ones
    assert _state("X X 0 0", 2, 1, "missing") == "OK"
    assert _state("0 0 X 0", 2, 1, "missing") == "ALARM"


def test_comparison_operators_at_the_threshold():
    def state(value, op):
        return evaluate_datapoints([value], threshold=10.0, comparison=op, evaluation_periods=1).state

    assert state(10.0, "GreaterThanOrEqualToThreshold") == "ALARM"
    assert state(10.0, "GreaterThanThreshold") == "OK"
    assert state(10.0, "LessThanOrEqualToThreshold") == "ALARM"
    assert state(10.0, "LessThanThreshold") == "OK"
    assert state(9.5, "LessThanThreshold") == "ALARM"


def test_reasons_for_missing_data():
    r = evaluate_datapoints([None] * 5, threshold=1, comparison="GreaterThanThreshold", evaluation_periods=3,
                            treat_missing_data="notBreaching")
    assert r.state == "OK"
    assert r.reason == ("Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were "
                        "treated as [NonBreaching].")
    r = evaluate_datapoints([None] * 3, threshold=1, comparison="GreaterThanThreshold", evaluation_periods=1)
    assert (r.state, r.reason) == ("INSUFFICIENT_DATA", "Insufficient Data: 1 datapoint was unknown.")


def test_evaluation_range_matches_the_documented_example():
    assert evaluation_range(3) == 5
    assert evaluation_range(1) == 3
    assert evaluation_range(12) == 16


def test_statistics_by_hand():
    raw = [1.0, 4.0, 2.0, 3.0]
    sets = [(10.0, 0.5, 6.0, 4.0)]   # sum, min, max, sample count
    assert aggregate(raw, [], "Sum") == 10.0
    assert aggregate(raw, sets, "Sum") == 20.0
    assert aggregate(raw, sets, "SampleCount") == 8.0
    assert aggregate(raw, sets, "Average") == 2.5
    assert aggregate(raw, sets, "Minimum") == 0.5
    assert aggregate(raw, sets, "Maximum") == 6.0
    assert aggregate([float(i) for i in range(1, 11)], [], None, "p90") == 9.0
    assert aggregate([], [], "Sum") is None


# --- end to end through the gateway --------------------------------------------------------------
def _advance(cloud, seconds: float) -> None:
    answer = requests.post(cloud.aws_url + "/_localcloud/clock", json={"advance_seconds": seconds},
                           headers={TOKEN_HEADER: cloud.control_token}, timeout=30)
    assert answer.status_code == 200


def _align(cloud) -> float:
    """Move the clock to one second past the next minute boundary; return that boundary."""
    now = cloud.clock.now()
    boundary = (int(now // 60) + 1) * 60
    _advance(cloud, boundary + 1 - now)
    return float(boundary)


def _put(cw, value: float, at: float, name: str) -> None:
    cw.put_metric_data(Namespace="LabTest", MetricData=[
        {"MetricName": name, "Value": value, "Timestamp": datetime.fromtimestamp(at, timezone.utc)}])


def _alarm(cw, name: str, **extra) -> dict:
    # moto's state outlives one LocalCloud in this process: each alarm watches its own metric
    params = dict(AlarmName=name, MetricName=name, Namespace="LabTest", Statistic="Sum", Period=60,
                  EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanOrEqualToThreshold")
    params.update(extra)
    cw.put_metric_alarm(**params)
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def test_new_alarm_starts_insufficient_then_alarm_then_ok(cloud):
    cw = boto3.client("cloudwatch")
    b0 = _align(cloud)
    assert _alarm(cw, "e2e")["StateValue"] == "INSUFFICIENT_DATA"
    _put(cw, 2.0, b0 + 5, "e2e")
    _put(cw, 1.0, b0 + 20, "e2e")
    _advance(cloud, 60)
    alarm = cw.describe_alarms(AlarmNames=["e2e"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM"
    assert "[3.0 (" in alarm["StateReason"]       # Sum over the minute = 2 + 1
    assert json.loads(alarm["StateReasonData"])["recentDatapoints"] == [3.0]
    _put(cw, 0.0, b0 + 65, "e2e")
    _advance(cloud, 60)
    assert cw.describe_alarms(AlarmNames=["e2e"])["MetricAlarms"][0]["StateValue"] == "OK"
    items = cw.describe_alarm_history(AlarmName="e2e", ScanBy="TimestampAscending")["AlarmHistoryItems"]
    assert [i["HistorySummary"] for i in items] == [
        'Alarm "e2e" created',
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
        "Alarm updated from ALARM to OK",
    ]
    data = json.loads(items[1]["HistoryData"])
    assert data["oldState"]["stateValue"] == "INSUFFICIENT_DATA" and data["newState"]["stateValue"] == "ALARM"
    only_state = cw.describe_alarm_history(AlarmName="e2e", HistoryItemType="StateUpdate", MaxRecords=1)
    assert only_state["AlarmHistoryItems"][0]["HistorySummary"] == "Alarm updated from ALARM to OK"
    assert "NextToken" in only_state
    page2 = cw.describe_alarm_history(AlarmName="e2e", HistoryItemType="StateUpdate", MaxRecords=1,
                                      NextToken=only_state["NextToken"])
    assert page2["AlarmHistoryItems"][0]["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"


def test_two_of_three_with_missing_data_end_to_end(cloud):
    # by hand: minute 1 "- - - - X" -> 1 breaching of 1 real, not premature (age 1 < M=2) -> OK
    #          minute 2 "- - - X X" -> premature alarm rule: oldest breaching is 2 periods old -> ALARM
    cw = boto3.client("cloudwatch")
    b0 = _align(cloud)
    _alarm(cw, "mofn", EvaluationPeriods=3, DatapointsToAlarm=2)
    _put(cw, 5.0, b0 + 10, "mofn")
    _advance(cloud, 60)
    assert cw.describe_alarms(AlarmNames=["mofn"])["MetricAlarms"][0]["StateValue"] == "OK"
    _put(cw, 5.0, b0 + 70, "mofn")
    _advance(cloud, 60)
    assert cw.describe_alarms(AlarmNames=["mofn"])["MetricAlarms"][0]["StateValue"] == "ALARM"


def test_actions_go_to_sns_http_subscribers_and_eventbridge_rules(cloud):
    cw, sns = boto3.client("cloudwatch"), boto3.client("sns")
    events, sqs = boto3.client("events"), boto3.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alarm-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="alarm-changes", EventPattern=json.dumps(
        {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
         "detail": {"alarmName": ["notify"]}}))
    events.put_targets(Rule="alarm-changes", Targets=[{"Id": "q", "Arn": queue_arn}])
    with Webhook() as hook:
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url)
        b0 = _align(cloud)
        _alarm(cw, "notify", AlarmActions=[topic], OKActions=[topic], TreatMissingData="notBreaching")
        _put(cw, 4.0, b0 + 3, "notify")
        _advance(cloud, 60)
        # the breaching datapoint stays in the 3-period evaluation range for two more minutes;
        # once it has left, no data + notBreaching -> OK
        _advance(cloud, 120)
        assert len(hook.notifications()) == 1
        _advance(cloud, 60)
        notes = hook.notifications()
    assert [(n["Message"]["OldStateValue"], n["Message"]["NewStateValue"]) for n in notes] == [
        ("INSUFFICIENT_DATA", "ALARM"), ("ALARM", "OK")]
    assert notes[0]["Subject"] == 'ALARM: "notify" in US East (N. Virginia)'
    assert notes[0]["Message"]["Trigger"]["MetricName"] == "notify"
    assert notes[0]["TopicArn"] == topic
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(m["Body"]) for m in messages]
    assert sorted(b["detail"]["state"]["value"] for b in bodies) == ["ALARM", "OK"]
    assert all(b["detail-type"] == "CloudWatch Alarm State Change" and b["source"] == "aws.cloudwatch" for b in bodies)
    actions = cw.describe_alarm_history(AlarmName="notify", HistoryItemType="Action")["AlarmHistoryItems"]
    assert len(actions) == 2 and all(a["HistorySummary"].startswith("Successfully executed action") for a in actions)


def test_update_keeps_state_and_validation_errors(cloud):
    cw = boto3.client("cloudwatch")
    b0 = _align(cloud)
    _alarm(cw, "keep")
    _put(cw, 9.0, b0 + 2, "keep")
    _advance(cloud, 60)
    assert _alarm(cw, "keep", Threshold=2.0)["StateValue"] == "ALARM"   # PutMetricAlarm again = update
    summaries = [i["HistorySummary"] for i in cw.describe_alarm_history(AlarmName="keep")["AlarmHistoryItems"]]
    assert summaries[0] == 'Alarm "keep" updated'
    with pytest.raises(ClientError) as err:
        _alarm(cw, "bad-period", Period=45)
    assert err.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as err:
        _alarm(cw, "bad-m", EvaluationPeriods=2, DatapointsToAlarm=3)
    assert err.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as err:
        cw.describe_alarm_history(HistoryItemType="Nonsense")
    assert err.value.response["Error"]["Code"] == "ValidationError"


def test_set_alarm_state_records_history(cloud):
    cw = boto3.client("cloudwatch")
    _alarm(cw, "manual")
    cw.set_alarm_state(AlarmName="manual", StateValue="ALARM", StateReason="testing the pager")
    alarm = cw.describe_alarms(AlarmNames=["manual"])["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "testing the pager")
    items = cw.describe_alarm_history(AlarmName="manual", HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    assert [i["HistorySummary"] for i in items] == ["Alarm updated from INSUFFICIENT_DATA to ALARM"]


def test_insufficient_data_actions_and_disabled_actions(cloud):
    cw, sns = boto3.client("cloudwatch"), boto3.client("sns")
    topic = sns.create_topic(Name="insufficient")["TopicArn"]
    with Webhook() as hook:
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url)
        b0 = _align(cloud)
        _alarm(cw, "quiet", InsufficientDataActions=[topic], OKActions=[topic])
        _alarm(cw, "muted", AlarmActions=[topic], ActionsEnabled=False)
        _put(cw, 0.0, b0 + 4, "quiet")
        _put(cw, 7.0, b0 + 4, "muted")
        _advance(cloud, 60)          # quiet: INSUFFICIENT_DATA -> OK (notified); muted -> ALARM (actions disabled)
        # by hand: the 0.0 datapoint stays in quiet's 3-period range until b0 + 180; then missing -> INSUFFICIENT_DATA
        _advance(cloud, 120)
        assert [n["Message"]["NewStateValue"] for n in hook.notifications()] == ["OK"]
        _advance(cloud, 60)
        notes = [(n["Message"]["AlarmName"], n["Message"]["NewStateValue"]) for n in hook.notifications()]
    assert notes == [("quiet", "OK"), ("quiet", "INSUFFICIENT_DATA")]
    # muted: ALARM at b0 + 60, its datapoint leaves the range at b0 + 240 -> INSUFFICIENT_DATA; no actions ran
    muted = cw.describe_alarm_history(AlarmName="muted", ScanBy="TimestampAscending")["AlarmHistoryItems"]
    assert [i["HistorySummary"] for i in muted if i["HistoryItemType"] == "StateUpdate"] == [
        "Alarm updated from INSUFFICIENT_DATA to ALARM", "Alarm updated from ALARM to INSUFFICIENT_DATA"]
    assert not [i for i in muted if i["HistoryItemType"] == "Action"]


def test_eventbridge_rules_route_alarm_changes_to_sns_and_log_groups(cloud):
    cw, sns, events, logs = (boto3.client(s) for s in ("cloudwatch", "sns", "events", "logs"))
    topic = sns.create_topic(Name="routed")["TopicArn"]
    logs.create_log_group(logGroupName="/aws/events/alarms")
    group_arn = logs.describe_log_groups(logGroupNamePrefix="/aws/events/alarms")["logGroups"][0]["arn"]
    events.put_rule(Name="to-sns-and-logs", EventPattern=json.dumps(
        {"source": ["aws.cloudwatch"], "detail": {"alarmName": ["routed"], "state": {"value": ["ALARM"]}}}))
    events.put_targets(Rule="to-sns-and-logs", Targets=[
        {"Id": "topic", "Arn": topic},
        {"Id": "group", "Arn": group_arn.removesuffix(":*")},
        {"Id": "summary", "Arn": topic, "InputTransformer": {
            "InputPathsMap": {"name": "$.detail.alarmName", "state": "$.detail.state.value"},
            "InputTemplate": '"<name> is <state>"'}},
    ])
    with Webhook() as hook:
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url)
        b0 = _align(cloud)
        _alarm(cw, "routed")
        _put(cw, 5.0, b0 + 2, "routed")
        _advance(cloud, 60)
        messages = [n["Message"] for n in hook.notifications()]
    # the rule matches ALARM only: one event, delivered whole to SNS and transformed to SNS
    assert len(messages) == 2
    whole = next(m for m in messages if isinstance(m, dict))
    assert whole["detail-type"] == "CloudWatch Alarm State Change" and whole["detail"]["state"]["value"] == "ALARM"
    assert "routed is ALARM" in messages
    stored = logs.filter_log_events(logGroupName="/aws/events/alarms")["events"]
    assert [json.loads(e["message"])["detail"]["alarmName"] for e in stored] == ["routed"]
