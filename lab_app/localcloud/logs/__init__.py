"""CloudWatch Logs + Logs Insights stand-in (moto-style: urls / responses / models / exceptions, the component
in ``component``); the query languages live in ``insights/`` and ``filter_pattern/``."""
from lab_app.localcloud.logs.component import Logs

__all__ = ["Logs"]
