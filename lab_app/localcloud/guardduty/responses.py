"""Parse GuardDuty REST-JSON requests (wire names: ``detectorId``, ``findingCriteria``...), validate them as the
API does, serialise the answers; all state lives in models.GuardDutyBackend."""
from __future__ import annotations

from typing import Any

from lab_app.localcloud.aws import paging
from lab_app.localcloud.guardduty import criteria
from lab_app.localcloud.guardduty.exceptions import INVALID_VALUE, invalid_input
from lab_app.localcloud.guardduty.models import FREQUENCIES, GuardDutyBackend

STAT_TYPES = ("COUNT_BY_SEVERITY",)
GROUP_BY = ("ACCOUNT", "DATE", "FINDING_TYPE", "RESOURCE", "SEVERITY")


def _ids(body: dict, required: bool = True) -> list[str]:
    ids = body.get("findingIds")
    if ids is None and not required:
        return []
    if not isinstance(ids, list) or len(ids) > 50 or not all(isinstance(i, str) and 1 <= len(i) <= 300 for i in ids):
        raise invalid_input(INVALID_VALUE)
    return ids


def _frequency(body: dict) -> None:
    value = body.get("findingPublishingFrequency")
    if value is not None and value not in FREQUENCIES:
        raise invalid_input(INVALID_VALUE)


def _max_results(value: Any, default: int, top: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid_input(INVALID_VALUE) from None
    if not 1 <= number <= top:
        raise invalid_input(INVALID_VALUE)
    return number


def _page(items: list, token: str | None, size: int, fingerprint: Any) -> tuple[list, str | None]:
    start = 0
    if token:
        try:
            payload = paging.decode(token)
            start = int(payload["offset"])
            if payload.get("for") != fingerprint:
                raise ValueError
        except (paging.InvalidToken, KeyError, TypeError, ValueError):
            raise invalid_input("The request is rejected because an invalid nextToken is specified.") from None
    page = items[start:start + size]
    more = start + size < len(items)
    return page, paging.encode({"offset": start + size, "for": fingerprint}) if more else None


class GuardDutyResponse:
    def __init__(self, backend: GuardDutyBackend):
        self.backend = backend

    def dispatch(self, operation: str, account: str, region: str, path: dict, query: dict, body: dict) -> dict:
        return getattr(self, operation)(account, region, path.get("DetectorId"), query, body)

    # detectors ------------------------------------------------------------------------------------
    def CreateDetector(self, account, region, _detector, _query, body) -> dict:
        if not isinstance(body.get("enable"), bool):
            raise invalid_input("The request is rejected because the enable field is missing or not a boolean.")
        _frequency(body)
        return {"detectorId": self.backend.create_detector(account, region, body), "unprocessedDataSources": {}}

    def GetDetector(self, account, region, detector, _query, _body) -> dict:
        return self.backend.get_detector(account, region, detector)

    def ListDetectors(self, account, region, _detector, query, _body) -> dict:
        size = _max_results(query.get("maxResults"), 50, 50)
        ids, token = _page(self.backend.list_detectors(account, region), query.get("nextToken"), size, "detectors")
        return {"detectorIds": ids, **({"nextToken": token} if token else {})}

    def UpdateDetector(self, account, region, detector, _query, body) -> dict:
        if body.get("enable") is not None and not isinstance(body["enable"], bool):
            raise invalid_input(INVALID_VALUE)
        _frequency(body)
        self.backend.update_detector(account, region, detector, body)
        return {}

    def DeleteDetector(self, account, region, detector, _query, _body) -> dict:
        self.backend.delete_detector(account, region, detector)
        return {}

    # findings -------------------------------------------------------------------------------------
    def CreateSampleFindings(self, account, region, detector, _query, body) -> dict:
        types = body.get("findingTypes")
        if types is not None and (not isinstance(types, list) or len(types) > 50
                                  or not all(isinstance(t, str) and 1 <= len(t) <= 100 for t in types)):
            raise invalid_input(INVALID_VALUE)
        self.backend.create_sample_findings(account, region, detector, types)
        return {}

    def ListFindings(self, account, region, detector, _query, body) -> dict:
        criterion = criteria.validate(body.get("findingCriteria"))
        sort = criteria.validate_sort(body.get("sortCriteria"))
        size = _max_results(body.get("maxResults"), 50, 50)
        ids = self.backend.list_findings(account, region, detector, criterion, sort)
        fingerprint = [detector, criterion, list(sort) if sort else None]
        page, token = _page(ids, body.get("nextToken"), size, fingerprint)
        return {"findingIds": page, **({"nextToken": token} if token else {})}

    def GetFindings(self, account, region, detector, _query, body) -> dict:
        ids = _ids(body)
        sort = criteria.validate_sort(body.get("sortCriteria"))
        return {"findings": self.backend.get_findings(account, region, detector, ids, sort)}

    def ArchiveFindings(self, account, region, detector, _query, body) -> dict:
        self.backend.set_archived(account, region, detector, _ids(body), True)
        return {}

    def UnarchiveFindings(self, account, region, detector, _query, body) -> dict:
        self.backend.set_archived(account, region, detector, _ids(body), False)
        return {}

    def GetFindingsStatistics(self, account, region, detector, _query, body) -> dict:
        stat_types = body.get("findingStatisticTypes") or []
        group_by = body.get("groupBy")
        order_by = body.get("orderBy") or "DESC"
        if not isinstance(stat_types, list) or any(t not in STAT_TYPES for t in stat_types) or \
                (group_by is not None and group_by not in GROUP_BY) or order_by not in ("ASC", "DESC"):
            raise invalid_input(INVALID_VALUE)
        if not stat_types and group_by is None:
            raise invalid_input("The request is rejected because one of findingStatisticTypes or groupBy must be "
                                "specified.")
        size = _max_results(body.get("maxResults"), 25, 100)
        criterion = criteria.validate(body.get("findingCriteria"))
        stats = self.backend.statistics(account, region, detector, criterion, stat_types, group_by, order_by, size)
        return {"findingStatistics": stats}
