"""When a failed delivery is tried again: exponential back-off, capped, with jitter."""

from __future__ import annotations

from random import Random

MAX_DOUBLINGS = 62  # beyond this the cap has long applied; keeps 2**n a sane float


def retry_delay(attempt: int, *, first_s: float, max_s: float, rng: Random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 for the first).

    "Equal jitter": a random point in the upper half of the capped exponential step, so
    that deliveries failing together spread out, yet every wait still grows.
    """
    step = min(max_s, first_s * 2.0 ** min(max(attempt - 1, 0), MAX_DOUBLINGS))
    return step / 2 + rng.uniform(0, step / 2)
