"""NextTokens: opaque to the caller, a small JSON document inside.

* :func:`encode` / :func:`decode`: any JSON payload (an offset and a fingerprint of the request, say).
* :class:`Keyset`: a cursor over rows ordered by (time, tiebreak): the token holds the last row's two
  values and the next page starts after them, so a page stays right while new rows arrive
  (CloudTrail LookupEvents, CloudWatch DescribeAlarmHistory).
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any


class InvalidToken(ValueError):
    """The token was not issued by us (each stand-in raises its service's own error code for it)."""


def encode(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def decode(token: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except Exception:
        raise InvalidToken(token) from None


@dataclass(frozen=True)
class Keyset:
    """Rows ordered by ``time_column`` then ``tie_column``; the token is the last row's (time, tie)."""

    time_column: str
    tie_column: str
    descending: bool = True          # the time order
    tie_descending: bool = True      # the tiebreak order
    tie_key: str = "id"              # the tiebreak's name inside the token
    tie_type: type = str

    def order_by(self) -> str:
        return (f"{self.time_column} {'DESC' if self.descending else 'ASC'}, "
                f"{self.tie_column} {'DESC' if self.tie_descending else 'ASC'}")

    def after(self, token: str) -> tuple[str, list]:
        """A WHERE condition (bound parameters) for the rows after the token's row. Raises InvalidToken."""
        cursor = decode(token)
        try:
            t, tie = float(cursor["t"]), self.tie_type(cursor[self.tie_key])
        except (KeyError, TypeError, ValueError):
            raise InvalidToken(token) from None
        op, tie_op = ("<" if self.descending else ">"), ("<" if self.tie_descending else ">")
        return (f"({self.time_column} {op} ? OR ({self.time_column} = ? AND {self.tie_column} {tie_op} ?))",
                [t, t, tie])

    def token(self, time_value: float, tie_value: Any) -> str:
        return encode({"t": time_value, self.tie_key: tie_value})
