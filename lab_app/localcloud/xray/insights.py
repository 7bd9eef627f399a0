"""X-Ray Insights: GetInsightSummaries, GetInsight, GetInsightEvents, GetInsightImpactGraph.

On AWS, X-Ray Insights runs an anomaly-detection model over the traces of groups whose ``InsightsConfiguration``
has ``InsightsEnabled: true`` and records an insight when a service's fault rate departs from what the model
predicts. The local cloud has no anomaly model, so it answers exactly what AWS answers when there is nothing to
report:

* ``GetInsightSummaries`` for an existing group, with insights on or off: ``{"InsightSummaries": []}`` (a group
  with insights off never has insights; one with insights on has none because nothing was detected). The group is
  named by ``GroupName`` or ``GroupARN`` (one is required; an unknown group is ``InvalidRequestException``, as
  GetGroup answers); ``StartTime`` must be before ``EndTime`` and not more than 30 days old (the model's
  documented limit).
* ``GetInsight``, ``GetInsightEvents``, ``GetInsightImpactGraph`` name an insight by ``InsightId``; as no insight
  exists, every id is unknown: ``InvalidRequestException`` (the only client error botocore's model lists for these
  operations). ``GetInsightImpactGraph`` first checks its documented time limits (start not more than 30 days
  old, range at most six hours).
"""
from __future__ import annotations

from typing import Any, Callable

from lab_app.localcloud.xray.exceptions import InvalidRequestException

MAX_AGE_SECONDS = 30 * 86400
MAX_IMPACT_GRAPH_RANGE = 6 * 3600


class Insights:
    def __init__(self, backend, clock: Callable[[], float]):
        self.backend = backend     # for the groups
        self.now = clock

    def setup(self) -> None:
        """No insights are ever stored: there is no anomaly model to create them."""

    def _check_range(self, start: float, end: float) -> None:
        if end < start:
            raise InvalidRequestException("EndTime must be after StartTime")
        if start < self.now() - MAX_AGE_SECONDS:
            raise InvalidRequestException("StartTime can't be more than 30 days old")

    def summaries(self, start: float, end: float, group_name: Any = None, group_arn: Any = None,
                  states: Any = None, max_results: Any = None, next_token: Any = None) -> dict:
        if not group_name and not group_arn:
            raise InvalidRequestException("GroupName or GroupARN is required")
        self._check_range(start, end)
        self.backend._find_group(group_name, group_arn)   # InvalidRequestException for an unknown group
        if next_token is not None:
            raise InvalidRequestException("The NextToken is not valid")   # none is ever handed out
        return {"InsightSummaries": []}

    @staticmethod
    def _unknown(insight_id: Any) -> InvalidRequestException:
        return InvalidRequestException(f"Insight {insight_id} not found")

    def get(self, insight_id: Any) -> dict:
        raise self._unknown(insight_id)

    def events(self, insight_id: Any, max_results: Any = None, next_token: Any = None) -> dict:
        raise self._unknown(insight_id)

    def impact_graph(self, insight_id: Any, start: float, end: float, next_token: Any = None) -> dict:
        self._check_range(start, end)
        if end - start > MAX_IMPACT_GRAPH_RANGE:
            raise InvalidRequestException("The time range between StartTime and EndTime can't be more than six hours")
        raise self._unknown(insight_id)
