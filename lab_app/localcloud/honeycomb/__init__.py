"""The Honeycomb stand-in: OTLP ingest, ``/1/auth`` and the Query Data API on its own port."""
from lab_app.localcloud.honeycomb.component import Honeycomb

__all__ = ["Honeycomb"]
