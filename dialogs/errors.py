"""The one error a service raises for "this answer is not valid here": the person is told why and asked again."""

from __future__ import annotations


class InvalidAnswer(ValueError):
    """An answer or action the rules refuse; ``msgid`` says why in a catalog message, ``values`` fill it."""

    def __init__(self, msgid: str, **values: object) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.values = values
