"""What an order push must satisfy beyond its schema, checked against the site configs
(no database): the site, unique line ids, SKUs the site stocks, a carrier it ships with.
"""

from __future__ import annotations

from collections.abc import Mapping

from api.errors import FieldError, InvalidRequest
from api.orders.schemas import OrderCreateRequest
from controller.domain.layout import Site


def candidate_sites(request: OrderCreateRequest, sites: Mapping[str, Site]) -> list[Site]:
    """The sites that may fill the order: the one it names, else every site that stocks all
    its SKUs and ships with its carrier. Raises InvalidRequest naming each failing field."""
    errors = _line_id_errors(request)
    if request.site is not None:
        site = sites.get(request.site)
        if site is None:
            errors.append(
                FieldError("site", f"unknown site {request.site!r}; known: {sorted(sites)}")
            )
            raise InvalidRequest(errors)
        errors.extend(_site_errors(request, site))
        if errors:
            raise InvalidRequest(errors)
        return [site]
    able = [site for site in sites.values() if not _site_errors(request, site)]
    if errors or not able:
        if len(sites) == 1:  # the one site's own reasons name the fields best
            errors.extend(_site_errors(request, next(iter(sites.values()))))
        else:
            errors.extend(_no_site_errors(request, sites))
        raise InvalidRequest(errors)
    return able


def _line_id_errors(request: OrderCreateRequest) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, line in enumerate(request.lines):
        if line.line_id in seen:
            errors.append(FieldError(f"lines[{i}].line_id", f"duplicate line id {line.line_id!r}"))
        seen.add(line.line_id)
    return errors


def _site_errors(request: OrderCreateRequest, site: Site) -> list[FieldError]:
    errors = [
        FieldError(f"lines[{i}].sku", f"unknown sku {line.sku!r} at site {site.site!r}")
        for i, line in enumerate(request.lines)
        if not site.has_sku(line.sku)
    ]
    if request.carrier is not None and request.carrier not in site.carrier_codes:
        errors.append(
            FieldError(
                "carrier",
                f"unknown carrier {request.carrier!r} at site {site.site!r}; "
                f"known: {sorted(site.carrier_codes)}",
            )
        )
    return errors


def _no_site_errors(request: OrderCreateRequest, sites: Mapping[str, Site]) -> list[FieldError]:
    errors = [
        FieldError(f"lines[{i}].sku", f"unknown sku {line.sku!r}: no site stocks it")
        for i, line in enumerate(request.lines)
        if not any(site.has_sku(line.sku) for site in sites.values())
    ]
    if request.carrier is not None and not any(
        request.carrier in site.carrier_codes for site in sites.values()
    ):
        errors.append(FieldError("carrier", f"unknown carrier {request.carrier!r}: no site has it"))
    if not errors:
        errors.append(
            FieldError(
                "site",
                "no single site stocks every SKU of the order with its carrier; "
                f"name one of {sorted(sites)}",
            )
        )
    return errors
