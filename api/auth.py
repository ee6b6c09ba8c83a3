"""API keys: `Authorization: Bearer <key>`, each key with scopes (DESIGN §5.1)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import SecretStr

from api.settings import Scope


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key's fingerprint (never the key) and its scopes."""

    id: str
    scopes: frozenset[Scope]

    def may(self, allowed: Sequence[Scope]) -> bool:
        return Scope.ADMIN in self.scopes or any(s in self.scopes for s in allowed)


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class KeyRing:
    def __init__(self, keys: Mapping[SecretStr, Sequence[Scope]]) -> None:
        self._keys = [
            (
                k.get_secret_value().encode(),
                Principal(fingerprint(k.get_secret_value()), frozenset(s)),
            )
            for k, s in keys.items()
        ]

    def authenticate(self, token: str) -> Principal | None:
        """The key's principal, or None. Compares with every key in constant time."""
        presented = token.encode()
        found: Principal | None = None
        for key, principal in self._keys:
            if hmac.compare_digest(key, presented):
                found = principal
        return found
