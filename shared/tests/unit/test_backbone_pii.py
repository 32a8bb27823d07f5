"""PII (docs/security.md): what masking covers, every log path through it, no bound values in database errors."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc

from backbone.db import make_engine
from backbone.logging import SERVER_LOGGERS, configure_logging
from backbone.masking import mask_id_card, mask_pii, mask_uscc

PII = ["13812345678", "zhang.san@example.com", "91350100M000100Y43", "11010519900307123X", "010-62345678"]


@pytest.mark.parametrize(("text", "masked"), [
    ("USCC 91350100M000100Y43 ok", "USCC 913501********0Y43 ok"),
    ("统一社会信用代码91110000600037341L。", "统一社会信用代码911100********341L。"),
    ("id 11010519900307123X", "id 110105********123X"),
    ("身份证110105199003071234，", "身份证110105********1234，"),
    ("id 11010519900307123x.", "id 110105********123x."),
    # Not an ID card or a USCC: kept.
    ("order 2026112612345678901", "order 2026112612345678901"),
    ("order 202401138123456789", "order 202401138123456789"),
    ("ticket tkt_0190f3c2a1b4_9f2c4d1e", "ticket tkt_0190f3c2a1b4_9f2c4d1e"),
    ("at 2024-01-15 10:00", "at 2024-01-15 10:00"),
])
def test_uscc_and_id_cards_are_masked_in_free_text(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


def test_uscc_and_id_card_helpers() -> None:
    assert mask_uscc("91350100m000100y43") == "913501********0Y43"
    assert mask_id_card("11010519900307123X") == "110105********123X"
    assert mask_uscc("short") == "***" and mask_id_card("12345678") == "****5678"


def _capture(service: str = "crm") -> io.StringIO:
    configure_logging(service)
    stream = io.StringIO()
    logging.getLogger().handlers[0].stream = stream  # type: ignore[attr-defined]
    return stream


def test_uvicorn_error_and_access_logs_go_through_the_masked_handler() -> None:
    # uvicorn configures its loggers with handlers of its own before it imports the app.
    for name in SERVER_LOGGERS:
        logging.getLogger(name).addHandler(logging.StreamHandler(io.StringIO()))
        logging.getLogger(name).propagate = False
    stream = _capture()
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    try:
        raise ValueError(f"bad value {PII[0]} for {PII[1]}")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/1.1" %d', "127.0.0.1", "GET",
                                             f"/api/v1/customers?q={PII[2]}&id={PII[3]}", 200)
    out = stream.getvalue()
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2 and "exc" in lines[0]
    for value in PII[:4]:
        assert value not in out
    for name in SERVER_LOGGERS:
        assert logging.getLogger(name).handlers == [] and logging.getLogger(name).propagate


def test_database_errors_carry_no_bound_values() -> None:
    engine = make_engine("postgresql+asyncpg://u@127.0.0.1:1/db")
    assert engine.sync_engine.hide_parameters
    error = sa_exc.DataError("INSERT INTO crm.key_persons (phone) VALUES ($1)", {"phone": PII[0]}, Exception("x"),
                             hide_parameters=engine.sync_engine.hide_parameters)
    assert PII[0] not in str(error)
    asyncio.run(engine.dispose())


def test_dead_letter_reasons_are_masked() -> None:
    from backbone.consumer import ConsumerRunner

    sent: list[dict[str, Any]] = []

    class Producer:
        async def send_and_wait(self, topic: str, value: bytes, **kw: Any) -> None:
            sent.append({"topic": topic, **kw})

    runner = ConsumerRunner.__new__(ConsumerRunner)
    runner.producer = Producer()  # type: ignore[assignment]
    runner.group_id = "crm"

    class Msg:
        topic, partition, offset, key, value = "crm.orders", 0, 7, b"k", b"{}"

    reason = f"DataError: value too long: {PII[0]} {PII[1]} {PII[2]} {PII[3]}"
    asyncio.run(runner._send_dead_letter(Msg(), "failed", reason))  # type: ignore[arg-type]
    header = dict(sent[0]["headers"])["dlq.reason"].decode()
    assert sent[0]["topic"] == "crm.orders.dlq" and "DataError" in header
    for value in PII[:4]:
        assert value not in header
