"""Choosing a sorter chute for a scanned parcel."""

from __future__ import annotations

from collections.abc import Mapping

from controller.domain.layout import Sorter

CHUTE_AVAILABLE = "AVAILABLE"


def decide_chute(sorter: Sorter, carrier: str | None, chute_states: Mapping[str, str]) -> str:
    """The first available chute of the parcel's carrier, else the reject chute.

    `carrier` is None for a no-read or a parcel we do not know. A chute with no reported
    state counts as available (sorters report only changes).
    """
    if carrier is not None:
        for chute in sorter.chutes:
            if (
                chute.carrier == carrier
                and chute_states.get(chute.id, CHUTE_AVAILABLE) == CHUTE_AVAILABLE
            ):
                return chute.id
    return sorter.reject_chute
