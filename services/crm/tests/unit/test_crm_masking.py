from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from backbone.masking import PhoneKind, PiiMaskingFilter, mask_email, mask_log_record, mask_text
from crm.domain.contacts import (
    InvalidEmail,
    InvalidPhone,
    is_mobile,
    mask_phone,
    parse_phone,
    validate_email,
    validate_phone,
)
from crm.domain.key_persons import KeyPerson, KeyPersonKind


@pytest.mark.parametrize(
    ("raw", "normalized", "masked"),
    [
        ("13812345678", "13812345678", "138****5678"),
        ("138 1234 5678", "13812345678", "138****5678"),
        ("138-1234-5678", "13812345678", "138****5678"),
        ("+8613812345678", "13812345678", "+86 138****5678"),
        ("+86 138 1234 5678", "13812345678", "+86 138****5678"),
        ("008613912345678", "13912345678", "+86 139****5678"),
        ("8619912345678", "19912345678", "+86 199****5678"),
        ("010-62345678", "010-62345678", "010-****5678"),
        ("(010)62345678", "010-62345678", "010-****5678"),
        ("（022）2345 6789", "022-23456789", "022-****6789"),
        ("02162345678", "021-62345678", "021-****5678"),
        ("0571-8888123", "0571-8888123", "0571-***8123"),
        ("0571-88881234-8001", "0571-88881234-8001", "0571-****1234-8001"),
        ("0571 88881234 转 12", "0571-88881234-12", "0571-****1234-12"),
        ("+86 571 88881234", "0571-88881234", "0571-****1234"),
    ],
)
def test_valid_phones(raw: str, normalized: str, masked: str) -> None:
    assert validate_phone(raw) == normalized
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "12345678901",
        "1381234567",
        "138123456789",
        "23812345678",
        "010-1234567",
        "010-02345678",
        "abc",
        "13812345678 转 5",
        "0000-1234567",
    ],
)
def test_invalid_phones(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        validate_phone(raw)


def test_phone_kinds() -> None:
    assert parse_phone("13812345678").kind is PhoneKind.MOBILE
    assert parse_phone("010-62345678").kind is PhoneKind.LANDLINE
    assert is_mobile("+86 13812345678")
    assert not is_mobile("010-62345678")
    assert not is_mobile("nonsense")


@pytest.mark.parametrize(("raw", "masked"), [("12345678901", "*******8901"), ("123", "***"), ("", "***")])
def test_mask_phone_never_raises(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("zhang.san@example.com", "z***@example.com"),
        ("a@example.com", "***@example.com"),
        ("not-an-email", "***"),
        ("@example.com", "***"),
    ],
)
def test_mask_email(email: str, masked: str) -> None:
    assert mask_email(email) == masked


def test_validate_email() -> None:
    assert validate_email(" Zhang.San@Example.COM ") == "Zhang.San@example.com"
    for bad in ["", "zhang", "zhang@", "zhang@@example.com", "zhang san@example.com"]:
        with pytest.raises(InvalidEmail):
            validate_email(bad)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call 13812345678 now", "call 138****5678 now"),
        ("手机13812345678，谢谢", "手机138****5678，谢谢"),
        ("tel +86 139-1234-5678.", "tel +86 139****5678."),
        ("mail zhang.san@example.com ok", "mail z***@example.com ok"),
        ("联系lisi@corp.cn", "联系l***@corp.cn"),
        ("电话010-62345678", "电话010-****5678"),
        ("(0571)88881234", "(0571)****1234"),
        ("USCC 91350100M000100Y43", "USCC 913501********0Y43"),
        ("order 202401138123456789", "order 202401138123456789"),
        ("at 2024-01-15 10:00", "at 2024-01-15 10:00"),
    ],
)
def test_mask_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("crm", logging.INFO, __file__, 1, msg, args, None)


def test_log_filter_function_masks_message_and_args() -> None:
    record = _record("customer %s phone %s", "zhang.san@example.com", "13812345678")
    assert mask_log_record(record) is True
    assert record.getMessage() == "customer z***@example.com phone 138****5678"


def test_log_filter_on_a_real_handler() -> None:
    logger = logging.getLogger("crm.test.masking")
    logger.propagate = False
    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = ListHandler()
    handler.addFilter(PiiMaskingFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("key person %s, %s", "13812345678", "wang@example.org")
    finally:
        logger.removeHandler(handler)
    assert lines == ["key person 138****5678, w***@example.org"]


def test_key_person_is_validated_normalized_and_masked() -> None:
    person = KeyPerson(
        name="张三",
        kind=KeyPersonKind.DECISION_MAKER,
        phone="+86 138 1234 5678",
        email="zhang.san@example.com",
    )
    assert person.phone == "13812345678"
    masked = person.masked()
    assert masked.phone == "138****5678"
    assert masked.email == "z***@example.com"
    assert masked.kind is KeyPersonKind.DECISION_MAKER


def test_key_person_rejects_bad_contact() -> None:
    with pytest.raises(ValidationError) as info:
        KeyPerson(name="李四", kind="daily_contact", phone="12345", email="nope")  # type: ignore[arg-type]
    fields = {e["loc"][0] for e in info.value.errors()}
    assert fields == {"phone", "email"}


def test_key_person_kinds() -> None:
    assert {k.value for k in KeyPersonKind} == {"decision_maker", "daily_contact", "middle_manager", "influencer"}
