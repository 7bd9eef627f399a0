"""Parse Security Hub REST-JSON requests, validate them as the API does, serialise the answers."""
from __future__ import annotations

from typing import Any

from lab_app.localcloud.aws import paging
from lab_app.localcloud.securityhub import filters
from lab_app.localcloud.securityhub.exceptions import InvalidInputException
from lab_app.localcloud.securityhub.models import SORT_FIELDS, SecurityHubBackend, check_update


def _page(items: list, token: Any, size: int, fingerprint: Any) -> tuple[list, str | None]:
    start = 0
    if token:
        try:
            payload = paging.decode(token)
            start = int(payload["offset"])
            if payload.get("for") != fingerprint:
                raise ValueError
        except (paging.InvalidToken, KeyError, TypeError, ValueError):
            raise InvalidInputException("Invalid parameter 'NextToken'") from None
    more = start + size < len(items)
    return items[start:start + size], paging.encode({"offset": start + size, "for": fingerprint}) if more else None


class SecurityHubResponse:
    def __init__(self, backend: SecurityHubBackend):
        self.backend = backend

    def dispatch(self, operation: str, account: str, region: str, query: dict, body: dict) -> dict:
        return getattr(self, operation)(account, region, query, body)

    def EnableSecurityHub(self, account, region, _query, body) -> dict:
        self.backend.enable(account, region, body)
        return {}

    def DisableSecurityHub(self, account, region, _query, _body) -> dict:
        self.backend.disable(account, region)
        return {}

    def DescribeHub(self, account, region, query, _body) -> dict:
        hub = self.backend.require_hub(account, region)
        if query.get("HubArn") and query["HubArn"] != hub["HubArn"]:
            raise InvalidInputException(f"Invalid parameter 'HubArn': {query['HubArn']}")
        return hub

    def BatchImportFindings(self, account, region, _query, body) -> dict:
        findings = body.get("Findings")
        if not isinstance(findings, list) or not 1 <= len(findings) <= 100:
            raise InvalidInputException("Invalid parameter 'Findings': a list of 1-100 findings is required")
        return self.backend.batch_import(account, region, findings)

    def GetFindings(self, account, region, _query, body) -> dict:
        filter_map = filters.validate(body.get("Filters"))
        sort = body.get("SortCriteria") or []
        if not isinstance(sort, list) or not all(isinstance(s, dict) and s.get("Field") in SORT_FIELDS
                                                 and s.get("SortOrder", "asc") in ("asc", "desc") for s in sort):
            raise InvalidInputException("Invalid parameter 'SortCriteria'")
        size = body.get("MaxResults", 100)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 100:
            raise InvalidInputException("Invalid parameter 'MaxResults': between 1 and 100")
        found = self.backend.get_findings(account, region, filter_map, sort)
        page, token = _page(found, body.get("NextToken"), size, [filter_map, sort])
        return {"Findings": page, **({"NextToken": token} if token else {})}

    def BatchUpdateFindings(self, account, region, _query, body) -> dict:
        check_update(body)
        return self.backend.batch_update(account, region, body)
