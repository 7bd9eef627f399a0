"""A learner-facing hint for a syntax error, from lark's ``match_examples`` without its cost.

``UnexpectedInput.match_examples(parse, examples)`` parses every example mistake again for each error it explains
(17 parses for an Insights query: about 5 ms). The examples are constants, so each is parsed once per grammar and
its exception replayed: lark's own matching then compares parser states exactly as before.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

from lark import Lark
from lark.exceptions import UnexpectedInput


class SyntaxHints:
    """``hint(error)``: the label of the example mistake that failed as ``error`` did, or None."""

    def __init__(self, parser: Callable[[], Lark], examples: Mapping[str, Sequence[str]]):
        self._parser = parser
        self.examples = examples
        self._errors: dict[str, UnexpectedInput | None] | None = None

    def _replay(self, malformed: str) -> None:
        if self._errors is None:
            errors: dict[str, UnexpectedInput | None] = {}
            for mistakes in self.examples.values():
                for text in mistakes:
                    try:
                        self._parser().parse(text)
                        errors[text] = None
                    except UnexpectedInput as error:
                        errors[text] = error
            self._errors = errors
        error = self._errors[malformed]
        if error is not None:
            raise error

    def hint(self, error: UnexpectedInput) -> str | None:
        if getattr(error, "state", None) is None:
            return None
        try:
            return error.match_examples(self._replay, self.examples, use_accepts=True)
        except Exception:  # a hint must never mask the real error
            return None
