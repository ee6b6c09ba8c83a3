"""Id rules (item 15, §6.1.2, §6.15.1): ids use only `A-Z a-z 0-9 _ - . :`, fit the AGV's
factsheet `idLen`, and are numeric only if the factsheet says `idNumericalOnly`."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable

from controller.vda5050.errors import InvalidId

ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]+")
NUMERIC_ID = re.compile(r"[0-9]+")

IdFactory = Callable[[], str]
"""Makes a fresh actionId (or other id); injected so tests are deterministic."""


def uuid_ids() -> IdFactory:
    """The default factory: UUID4 strings (hex and `-`, so within the id alphabet; §6.6.6)."""
    return lambda: str(uuid.uuid4())


def counter_ids(prefix: str = "a-", start: int = 1) -> IdFactory:
    """Deterministic ids `a-1`, `a-2`, …; with `prefix=""` numeric only (`idNumericalOnly`)."""
    counter = itertools.count(start)
    return lambda: f"{prefix}{next(counter)}"


def check_id(
    value: str, what: str = "id", *, max_len: int | None = None, numerical_only: bool = False
) -> str:
    """`value` if it is a usable VDA 5050 id, else `InvalidId`."""
    if not ID_PATTERN.fullmatch(value):
        raise InvalidId(what, value, "only A-Z a-z 0-9 _ - . : are allowed")
    if max_len is not None and len(value) > max_len:
        raise InvalidId(what, value, f"longer than the AGV's idLen {max_len}")
    if numerical_only and not NUMERIC_ID.fullmatch(value):
        raise InvalidId(what, value, "the AGV accepts numerical ids only")
    return value
