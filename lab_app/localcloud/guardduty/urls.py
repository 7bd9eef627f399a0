"""The GuardDuty REST paths served here (botocore's guardduty-2017-11-28 model); every other GuardDuty
operation (filters, IP sets, members) goes to moto."""
from __future__ import annotations

import re

url_paths = [
    ("POST", r"/detector", "CreateDetector"),
    ("GET", r"/detector", "ListDetectors"),
    ("GET", r"/detector/(?P<DetectorId>[^/]+)", "GetDetector"),
    ("POST", r"/detector/(?P<DetectorId>[^/]+)", "UpdateDetector"),
    ("DELETE", r"/detector/(?P<DetectorId>[^/]+)", "DeleteDetector"),
    ("POST", r"/detector/(?P<DetectorId>[^/]+)/findings/create", "CreateSampleFindings"),
    ("POST", r"/detector/(?P<DetectorId>[^/]+)/findings", "ListFindings"),
    ("POST", r"/detector/(?P<DetectorId>[^/]+)/findings/get", "GetFindings"),
    ("POST", r"/detector/(?P<DetectorId>[^/]+)/findings/archive", "ArchiveFindings"),
    ("POST", r"/detector/(?P<DetectorId>[^/]+)/findings/unarchive", "UnarchiveFindings"),
    ("POST", r"/detector/(?P<DetectorId>[^/]+)/findings/statistics", "GetFindingsStatistics"),
]
_COMPILED = [(method, re.compile(path + "/?"), op) for method, path, op in url_paths]


def route(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """(operation, path parameters) of a GuardDuty request, or None when it is not one served here."""
    for route_method, pattern, operation in _COMPILED:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return operation, match.groupdict()
    return None
