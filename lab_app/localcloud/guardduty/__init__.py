"""GuardDuty for the local cloud: detectors, sample findings of every foundational finding type, FindingCriteria,
archiving, statistics, and "GuardDuty Finding" events on EventBridge."""
from lab_app.localcloud.guardduty.component import GuardDuty

__all__ = ["GuardDuty"]
