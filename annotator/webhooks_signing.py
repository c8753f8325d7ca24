"""Signing and verifying webhook deliveries: pure, no Django, so a receiver can copy this file as it is.

Every delivery carries the header::

    Prefstack-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the webhook's secret>

(the scheme of Stripe's ``Stripe-Signature``). A receiver recomputes the HMAC over the exact bytes it received,
compares in constant time, and refuses a timestamp further than its tolerance from its own clock (the replay
window, five minutes by default), so a captured delivery cannot be replayed later. Several ``v1=`` entries may
appear (while a secret is rotated); one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Prefstack-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The header is missing or malformed, no signature matches, or the timestamp is outside the window."""


def signature_compute(*, secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``b"<timestamp>." + body`` keyed with ``secret`` (UTF-8)."""
    message = str(int(timestamp)).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    """The value of the ``Prefstack-Signature`` header: ``t=<timestamp>,v1=<hex>``."""
    return f"t={int(timestamp)},{SCHEME}={signature_compute(secret=secret, timestamp=timestamp, body=body)}"


def signature_parse(header: str) -> tuple[int, list[str]]:
    """``(timestamp, [v1 signatures])`` of a header value; SignatureError when it has no timestamp or no v1."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("The signature header needs t=<unix seconds> and v1=<hex>.")
    return timestamp, signatures


def signature_verify(
    *,
    secret: str,
    header: str,
    body: bytes,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check ``header`` against ``body``; the signed timestamp when it holds, SignatureError otherwise.

    ``tolerance_seconds`` bounds ``|now - t|`` (0 turns the replay check off, for tests on recorded deliveries).
    """
    timestamp, signatures = signature_parse(header)
    expected = signature_compute(secret=secret, timestamp=timestamp, body=body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("No signature matches the body.")
    current = time.time() if now is None else now
    if tolerance_seconds and abs(current - timestamp) > tolerance_seconds:
        raise SignatureError(f"The timestamp is more than {tolerance_seconds} s away from now (a replay?).")
    return timestamp
