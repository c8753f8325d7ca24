"""The webhook signature scheme, on a vector computed independently (``openssl dgst -sha256 -hmac``)."""

from __future__ import annotations

import pytest

from annotator.webhooks_signing import (
    SignatureError,
    signature_compute,
    signature_header,
    signature_parse,
    signature_verify,
)

SECRET = "whsec_test"
BODY = b'{"event":"snapshot.ready"}'
T = 1_700_000_000
# printf '%s' '1700000000.{"event":"snapshot.ready"}' | openssl dgst -sha256 -hmac 'whsec_test'
EXPECTED = "b286097f1409e7629191915fed2bd09023bc61d24746251485bada5cc1c98a78"


def test_known_vector() -> None:
    assert signature_compute(secret=SECRET, timestamp=T, body=BODY) == EXPECTED
    assert signature_header(secret=SECRET, timestamp=T, body=BODY) == f"t={T},v1={EXPECTED}"


def test_a_good_signature_within_the_window_verifies() -> None:
    header = signature_header(secret=SECRET, timestamp=T, body=BODY)
    assert signature_verify(secret=SECRET, header=header, body=BODY, now=T + 299) == T


@pytest.mark.parametrize(
    ("secret", "body"),
    [("whsec_other", BODY), (SECRET, BODY + b" "), (SECRET, b'{"event":"snapshot.failed"}')],
)
def test_another_secret_or_a_changed_body_is_refused(secret: str, body: bytes) -> None:
    header = signature_header(secret=SECRET, timestamp=T, body=BODY)
    with pytest.raises(SignatureError, match="No signature matches"):
        signature_verify(secret=secret, header=header, body=body, now=T)


def test_a_replay_outside_the_window_is_refused() -> None:
    header = signature_header(secret=SECRET, timestamp=T, body=BODY)
    with pytest.raises(SignatureError, match="replay"):
        signature_verify(secret=SECRET, header=header, body=BODY, now=T + 301)
    with pytest.raises(SignatureError, match="replay"):
        signature_verify(secret=SECRET, header=header, body=BODY, now=T - 301)


def test_the_timestamp_is_signed() -> None:
    forged = f"t={T + 1000},v1={EXPECTED}"
    with pytest.raises(SignatureError, match="No signature matches"):
        signature_verify(secret=SECRET, header=forged, body=BODY, now=T + 1000)


def test_one_matching_signature_of_several_is_enough() -> None:
    header = f"t={T},v1={'0' * 64},v1={EXPECTED}"
    assert signature_verify(secret=SECRET, header=header, body=BODY, now=T) == T


@pytest.mark.parametrize("header", ["", "v1=abc", f"t={T}", "t=abc,v1=abc", "garbage"])
def test_a_malformed_header_is_refused(header: str) -> None:
    with pytest.raises(SignatureError):
        signature_parse(header)
