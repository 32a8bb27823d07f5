from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from backbone import events_doc
from backbone.logging import JsonFormatter
from backbone.masking import mask_email, mask_phone, mask_pii
from backbone.settings import DEV_JWT_SECRET, ServiceSettings

ROOT = Path(__file__).resolve().parents[3]


def test_docs_events_md_is_generated_from_the_code():
    assert (ROOT / "docs" / "events.md").read_text() == events_doc.render(), (
        "docs/events.md is stale: run `python -m backbone.events_doc > docs/events.md`"
    )


@pytest.mark.parametrize(("text", "masked"), [
    ("call 13812345678 now", "call 138****5678 now"),
    ("+86 13912345678", "139****5678"),
    ("mail zhang.san@example.com please", "mail z***@example.com please"),
    ("order 2026112612345678901 stays", "order 2026112612345678901 stays"),
])
def test_pii_is_masked_in_free_text(text, masked):
    assert masked in mask_pii(text)


def test_masking_helpers():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_email("li.si@example.cn") == "l***@example.cn"


def test_json_log_lines_carry_no_full_phone_or_email():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sent to %s and %s", ("13812345678", "a.b@c.com"), None)
    line = json.loads(JsonFormatter("crm").format(record))
    assert "13812345678" not in line["msg"] and "a.b@c.com" not in line["msg"]


def test_settings_refuse_the_dev_secret_outside_local_and_test(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValueError, match="JWT_SECRET"):
        ServiceSettings()
    monkeypatch.setenv("JWT_SECRET", "a-real-secret-from-the-vault")
    with pytest.raises(ValueError, match="OIDC_ISSUER"):
        ServiceSettings()
    monkeypatch.setenv("OIDC_ISSUER", "https://id.example/realms/groupsuite")
    assert ServiceSettings().jwt_secret != DEV_JWT_SECRET
