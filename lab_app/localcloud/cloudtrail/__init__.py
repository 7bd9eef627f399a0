"""CloudTrail for the local cloud: every AWS API call on the gateway becomes a CloudTrail event (moto records none)."""
from lab_app.localcloud.cloudtrail.component import CloudTrail

__all__ = ["CloudTrail"]
