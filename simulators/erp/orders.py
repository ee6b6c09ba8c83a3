"""Random released orders as an ERP would push them (DESIGN §5.1), from a seed."""

from __future__ import annotations

import random
from typing import Any

from simulators.common.config import SiteConfig

_FIRST = ("Ada", "Bruno", "Chloe", "Dmitri", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas")
_LAST = ("Keller", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Quinn", "Rossi")
_CITIES = (
    ("Hamburg", "20095", "DE"),
    ("Lyon", "69002", "FR"),
    ("Utrecht", "3511", "NL"),
    ("Graz", "8010", "AT"),
    ("Aarhus", "8000", "DK"),
    ("Bilbao", "48001", "ES"),
)
_STREETS = ("Hafenstrasse", "Rue Merciere", "Oudegracht", "Herrengasse", "Strandvejen", "Gran Via")


def run_token(seed: int) -> str:
    """A short token derived from the seed alone: ids differ between seeds, not between runs."""
    return f"{random.Random(f'erp-token:{seed}').getrandbits(24):06x}"


def build_orders(site: SiteConfig, *, count: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(f"erp:{seed}")
    token = run_token(seed)
    skus = [s.sku for s in site.skus]
    carriers = [c.code for c in site.carriers]
    if not skus or not carriers:
        raise ValueError("the site has no SKUs or no carriers to order with")
    orders = []
    for n in range(1, count + 1):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        city, postal_code, country = rng.choice(_CITIES)
        lines = [
            {"line_id": str(10 * (i + 1)), "sku": sku, "qty": rng.randint(1, 3)}
            for i, sku in enumerate(rng.sample(skus, rng.randint(1, min(3, len(skus)))))
        ]
        customer_no = rng.randint(1000, 9999)
        orders.append(
            {
                "order_id": f"SO-{seed}-{token}-{n:04d}",
                "site": site.site,
                "priority": rng.randint(0, 9),
                "customer": {"id": f"C-{customer_no}", "name": f"{first} {last}"},
                "ship_to": {
                    "name": f"{first} {last}",
                    "line1": f"{rng.choice(_STREETS)} {rng.randint(1, 120)}",
                    "city": city,
                    "postal_code": postal_code,
                    "country": country,
                },
                "carrier": rng.choice(carriers),
                "lines": lines,
            }
        )
    return orders
