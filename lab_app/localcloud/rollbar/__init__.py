"""The Rollbar stand-in (not AWS): items and occurrences over Rollbar's API v1 on the AWS port."""
from lab_app.localcloud.rollbar.component import Rollbar

__all__ = ["Rollbar"]
