"""What a receipt or count must satisfy beyond its schema: a known site, bins the site has,
SKUs it stocks, lot and expiry exactly for lot-tracked SKUs. Each problem names its field."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from api.errors import FieldError, InvalidRequest
from api.stock.schemas import ReceiptLineIn
from controller.domain.layout import Site

_LINE = re.compile(r"^lines\[(\d+)\]")


def by_line(errors: Sequence[FieldError]) -> list[FieldError]:
    """Errors in the order of the lines they are about (`lines[2]` before `lines[10]`),
    keeping their order within a line."""

    def key(error: FieldError) -> int:
        match = _LINE.match(error.field)
        return int(match.group(1)) if match else -1

    return sorted(errors, key=key)


def known_site(site_id: str, sites: Mapping[str, Site]) -> Site:
    site = sites.get(site_id)
    if site is None:
        raise InvalidRequest(
            [FieldError("site", f"unknown site {site_id!r}; known: {sorted(sites)}")]
        )
    return site


def bin_errors(site: Site, codes: Sequence[str], known: Collection[str]) -> list[FieldError]:
    return [
        FieldError(f"lines[{i}].bin", f"unknown bin {code!r} at site {site.site!r}")
        for i, code in enumerate(codes)
        if code not in known
    ]


def duplicate_bin_errors(codes: Sequence[str]) -> list[FieldError]:
    errors = []
    seen: set[str] = set()
    for i, code in enumerate(codes):
        if code in seen:
            errors.append(FieldError(f"lines[{i}].bin", f"bin {code!r} is counted twice"))
        seen.add(code)
    return errors


def receipt_line_errors(site: Site, lines: Sequence[ReceiptLineIn]) -> list[FieldError]:
    errors = []
    for i, line in enumerate(lines):
        if not site.has_sku(line.sku):
            errors.append(
                FieldError(f"lines[{i}].sku", f"unknown sku {line.sku!r} at site {site.site!r}")
            )
            continue
        if site.sku(line.sku).lot_tracked:
            for name, value in (("lot", line.lot), ("expires_on", line.expires_on)):
                if value is None:
                    errors.append(
                        FieldError(
                            f"lines[{i}].{name}",
                            f"required: {line.sku!r} is lot-tracked",
                            type="missing",
                        )
                    )
        else:
            for name, value in (("lot", line.lot), ("expires_on", line.expires_on)):
                if value is not None:
                    errors.append(
                        FieldError(
                            f"lines[{i}].{name}",
                            f"not allowed: {line.sku!r} is not lot-tracked",
                        )
                    )
    return errors
