"""AWS X-Ray stand-in (moto-style): urls / responses / models / exceptions, daemon, filter_expr, sampling."""
from lab_app.localcloud.xray.component import XRay

__all__ = ["XRay"]
