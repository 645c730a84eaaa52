"""webhooks.signing: the Stripe-style signature a receiver checks."""

from __future__ import annotations

import hashlib
import hmac

from webhooks.signing import new_secret, signature_header, verify_signature

BODY = b'{"id":"evt_1","type":"message.created"}'


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    header = signature_header("whsec_k", 1_700_000_000, BODY)
    expected = hmac.new(b"whsec_k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_verify_accepts_the_right_secret_and_refuses_a_changed_body_secret_or_old_stamp():
    header = signature_header("whsec_k", 1_700_000_000, BODY)
    assert verify_signature("whsec_k", header, BODY, now=1_700_000_010)
    assert not verify_signature("whsec_k", header, BODY + b" ", now=1_700_000_010)
    assert not verify_signature("whsec_other", header, BODY, now=1_700_000_010)
    assert not verify_signature("whsec_k", header, BODY, now=1_700_000_000 + 301)
    assert not verify_signature("whsec_k", "", BODY)
    assert not verify_signature("whsec_k", "t=abc,v1=00", BODY)


def test_secrets_are_long_random_and_prefixed():
    first, second = new_secret(), new_secret()
    assert first != second
    assert first.startswith("whsec_") and len(first) >= 40
