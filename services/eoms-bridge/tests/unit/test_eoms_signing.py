"""Signed EOMS callbacks, the pure part (docs/security.md, item 3): eoms_bridge.adapter.signing.verify.

The replay store and the route are proved on a running bridge:
services/eoms-bridge/tests/integration/test_eoms_adapter.py::test_callbacks_are_signed_per_partner_within_a_replay_window.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import ValidationError

from eoms_bridge.adapter.signing import (
    PARTNER_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    actor_id_of,
    signed_headers,
    verify,
)
from eoms_bridge.settings import DEV_EOMS_CALLBACK_SECRET, DEV_EOMS_PARTNER, EomsSettings

SECRETS = {"huawei-eoms": "h" * 40, "zte-eoms": "z" * 40}
BODY = b'{"callback_id": "cb_1", "ticket_id": "tkt_1", "action": "accept"}'
NOW = 1_800_000_000.0


def check(headers: dict[str, str], body: bytes = BODY, now: float = NOW) -> str:
    got = verify(SECRETS, partner=headers.get(PARTNER_HEADER), timestamp=headers.get(TIMESTAMP_HEADER),
                 signed=headers.get(SIGNATURE_HEADER), body=body, now=now, window_s=300)
    return got.partner


def test_a_valid_signature_names_its_partner_and_the_actor_comes_from_it() -> None:
    headers = signed_headers("huawei-eoms", SECRETS["huawei-eoms"], BODY, now=NOW)
    expected = hmac.new(b"h" * 40, f"{int(NOW)}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"
    assert check(headers) == "huawei-eoms"
    assert check(headers, now=NOW + 299) == "huawei-eoms"  # within the window
    assert actor_id_of("huawei-eoms") == "eoms:huawei-eoms" and len(actor_id_of("x" * 40)) <= 60


@pytest.mark.parametrize("case", ["wrong secret", "another partner's secret", "unknown partner", "stale", "ahead",
                                  "body tampered", "timestamp changed", "missing header", "not hex",
                                  "no scheme", "timestamp not a number", "partner not an id"])
def test_anything_else_is_refused(case: str) -> None:
    good = signed_headers("huawei-eoms", SECRETS["huawei-eoms"], BODY, now=NOW)
    body, now, headers = BODY, NOW, dict(good)
    if case == "wrong secret":
        headers = signed_headers("huawei-eoms", "w" * 40, BODY, now=NOW)
    elif case == "another partner's secret":
        headers = signed_headers("huawei-eoms", SECRETS["zte-eoms"], BODY, now=NOW)
    elif case == "unknown partner":
        headers = signed_headers("nokia-eoms", SECRETS["huawei-eoms"], BODY, now=NOW)
    elif case == "stale":
        now = NOW + 301
    elif case == "ahead":
        now = NOW - 301
    elif case == "body tampered":
        body = BODY.replace(b"accept", b"cancel")
    elif case == "timestamp changed":
        headers[TIMESTAMP_HEADER] = str(int(NOW) + 1)
    elif case == "missing header":
        del headers[SIGNATURE_HEADER]
    elif case == "not hex":
        headers[SIGNATURE_HEADER] = "sha256=" + "z" * 64
    elif case == "no scheme":
        headers[SIGNATURE_HEADER] = headers[SIGNATURE_HEADER].removeprefix("sha256=")
    elif case == "timestamp not a number":
        headers[TIMESTAMP_HEADER] = "1e9"
    elif case == "partner not an id":
        headers[PARTNER_HEADER] = "Huawei EOMS\x00"
    with pytest.raises(SignatureError):
        check(headers, body=body, now=now)


def test_partner_secrets_have_no_usable_default_outside_local_and_test() -> None:
    assert EomsSettings(environment="test").callback_secrets() == {DEV_EOMS_PARTNER: DEV_EOMS_CALLBACK_SECRET}
    prod = {"environment": "production", "jwt_secret": "s" * 40, "oidc_issuer": "https://id.example/realms/g"}
    with pytest.raises(ValidationError, match="EOMS_CALLBACK_PARTNERS"):
        EomsSettings(**prod)  # the committed dev partner
    with pytest.raises(ValidationError, match="shorter than 32"):
        EomsSettings(**prod, eoms_callback_partners={"huawei-eoms": "short"})
    with pytest.raises(ValidationError, match="EOMS_CALLBACK_PARTNERS"):
        EomsSettings(**prod, eoms_callback_partners={DEV_EOMS_PARTNER: "x" * 40})
    with pytest.raises(ValidationError, match="partner ids"):
        EomsSettings(**prod, eoms_callback_partners={"Huawei EOMS": "x" * 40})
    ok = EomsSettings(**prod, eoms_callback_partners='{"huawei-eoms": "' + "h" * 40 + '"}')
    assert ok.callback_secrets() == {"huawei-eoms": "h" * 40}
    pairs = EomsSettings(**prod, eoms_callback_partners=f"huawei-eoms={'h' * 40},zte-eoms={'z' * 40}")
    assert pairs.callback_secrets() == SECRETS
    assert "h" * 40 not in repr(pairs), "the secrets never show in a repr or a log line"
