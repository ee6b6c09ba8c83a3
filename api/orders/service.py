"""Order intake as a route sees it: validate against the site configs, then hand the push to
the intake writer (api/orders/intake.py), which reserves stock and answers.

Retries: the same `order_id` with the same body answers 200 with the stored order; with a
different body 409, unless its `version` is higher (an amendment, api/orders/amend.py).
`Idempotency-Key` (per API key) replays the first answer as it was, status and body; the
same key with a different body answers 422 (IETF draft-ietf-httpapi-idempotency-key-header).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping

from api.auth import Principal
from api.orders.batch import Push, Submission
from api.orders.intake import IntakeWriter
from api.orders.schemas import OrderCreateRequest
from api.orders.validation import candidate_sites
from controller.domain.layout import Site


def request_hash(request: OrderCreateRequest) -> str:
    """The normalised body's fingerprint: equal for bodies that mean the same order."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def submit_order(
    writer: IntakeWriter,
    request: OrderCreateRequest,
    *,
    sites: Mapping[str, Site],
    principal: Principal,
    idempotency_key: str | None,
) -> Submission:
    if request.site is None and len(sites) == 1:
        # With one site, naming it or not is the same order (and the same fingerprint).
        request = request.model_copy(update={"site": next(iter(sites))})
    candidates = candidate_sites(request, sites)
    push = Push(
        request=request,
        sites=candidates,
        digest=request_hash(request),
        principal=principal.id,
        key=idempotency_key,
        answer=asyncio.get_running_loop().create_future(),
    )
    return await writer.submit(push)
