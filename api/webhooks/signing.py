"""How a delivery is signed, for us and for the receivers that check it.

Headers of every attempt:
- `Webhook-Id`: the event id; the same on every retry, so a receiver drops duplicates.
- `Webhook-Timestamp`: when this attempt was sent, in Unix seconds.
- `Webhook-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with the subscription's
  secret, of `<Webhook-Timestamp>.<raw body>`.

A receiver recomputes the HMAC over the bytes it received (before any JSON parsing),
compares in constant time, and refuses a timestamp far from its clock (say 5 minutes):
the timestamp is signed, so a captured request cannot be replayed later with a new one.
The header names follow Standard Webhooks, the signature format does not (theirs is
`v1,<base64>` over `id.timestamp.body`): use the recipe above, not their libraries.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def delivery_headers(event_id: str, timestamp: int, body: bytes, secret: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Webhook-Id": event_id,
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": signature(secret, timestamp, body),
    }
