"""Custom spans inside the service code, independent of which tracer is switched on.

The seed wraps HomeActivities in an OpenTelemetry span and a user activity in an X-Ray
segment. The service code here calls :func:`activity_span` once; each instrumentation helper
registers an *opener* (OTel: a span with attributes; X-Ray: a subsegment with annotations and
metadata), so switching a tracer on or off never touches the service code. With no opener
registered, ``activity_span`` costs one empty ExitStack.
"""
from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import Any, Callable, ContextManager, Iterator

Opener = Callable[[str, dict[str, Any]], ContextManager[Any]]
_openers: dict[str, Opener] = {}


def register_opener(key: str, opener: Opener) -> None:
    """Add (or replace, so notebook cells can re-run) the opener called ``key``."""
    _openers[key] = opener


def unregister_opener(key: str) -> None:
    _openers.pop(key, None)


def registered_openers() -> list[str]:
    return list(_openers)


class ActivitySpan:
    """What ``with activity_span(...) as span`` yields: set attributes after the span opened."""

    def __init__(self, name: str, attributes: dict[str, Any], handles: list[Any]):
        self.name = name
        self.attributes = attributes
        self.handles = handles

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value
        for handle in self.handles:
            setter = getattr(handle, "set_attribute", None)
            if setter is not None:
                setter(key, value)


@contextmanager
def activity_span(name: str, **attributes: Any) -> Iterator[ActivitySpan]:
    with ExitStack() as stack:
        handles = [stack.enter_context(opener(name, attributes)) for opener in list(_openers.values())]
        yield ActivitySpan(name, attributes, handles)
