"""OAuth pieces shared by the token endpoint and the authorization page: password
logins, one-time authorization codes, and PKCE.

Codes live in this process only (ten minutes, single use): the flow takes seconds and
`starling serve` answers it from one process. See docs/subsystems/api.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from starling.auth import new_secret, verify_password
from starling.model import Account
from starling.store.base import Store

CODE_TTL_S = 600
OOB = "urn:ietf:wg:oauth:2.0:oob"  # "show me the code" instead of a redirect


def account_for_login(store: Store, login: str, password: str) -> Account | None:
    """The account when the password matches. The login is the e-mail given at
    registration (what Mastodon clients send) or the username; an e-mail-like login is
    also tried by its local part, for accounts made without an e-mail (the demo's)."""
    for found in _login_candidates(store, login):
        stored = store.get_password_hash(found.id) if found else None
        if found and stored and verify_password(stored, password):
            return found
    return None


def _login_candidates(store: Store, login: str) -> Iterator[Account | None]:
    if "@" in login:
        yield store.get_account_by_email(login)
    for name in dict.fromkeys((login, login.partition("@")[0])):
        yield store.get_account_by_username(name) if name else None


@dataclass(frozen=True, slots=True)
class Grant:
    """What the user approved on the authorization page."""

    client_id: str
    account_id: int
    redirect_uri: str
    scopes: str
    code_challenge: str = ""
    challenge_method: str = ""

    def verifier_matches(self, verifier: str) -> bool:
        """PKCE (RFC 7636); grants made without a challenge need no verifier."""
        if not self.code_challenge:
            return True
        if self.challenge_method.upper() == "S256":
            digest = hashlib.sha256(verifier.encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        else:
            expected = verifier
        return hmac.compare_digest(expected, self.code_challenge)


class CodeStore:
    """One-time authorization codes; thread-safe."""

    def __init__(self, ttl_s: float = CODE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._codes: dict[str, tuple[float, Grant]] = {}

    def issue(self, grant: Grant) -> str:
        code = new_secret()
        now = time.monotonic()
        with self._lock:
            self._codes = {c: v for c, v in self._codes.items() if v[0] > now}
            self._codes[code] = (now + self.ttl_s, grant)
        return code

    def redeem(self, code: str) -> Grant | None:
        with self._lock:
            expires_at, grant = self._codes.pop(code, (0.0, None))
        return grant if expires_at > time.monotonic() else None
