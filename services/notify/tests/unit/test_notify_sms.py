from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notify.domain.sms import (
    ESM_CLASS_UDHI,
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsEncoding,
    char_units,
    decode_part,
    detect_encoding,
    encode_text,
    is_gsm7,
    parse_udh,
    reassemble,
    segment,
    split_text,
    unit_length,
)

GSM_CHARS = "".join(c for c in GSM7_BASIC if c != "\x1b") + "".join(GSM7_EXTENSION)
gsm_text = st.text(alphabet=GSM_CHARS, max_size=800)
any_text = st.text(max_size=600)  # includes CJK, emoji (surrogate pairs), GSM chars
cjk_emoji_text = st.text(alphabet=st.sampled_from("工单超时预警请处理，。ab1😀🚨𠀀€{"), max_size=500)


@pytest.mark.parametrize(
    ("text", "encoding", "parts"),
    [
        ("", SmsEncoding.GSM7, 1),
        ("a" * 160, SmsEncoding.GSM7, 1),
        ("a" * 161, SmsEncoding.GSM7, 2),
        ("a" * 306, SmsEncoding.GSM7, 2),
        ("a" * 307, SmsEncoding.GSM7, 3),
        ("€" * 80, SmsEncoding.GSM7, 1),  # extension chars cost 2 septets
        ("€" * 81, SmsEncoding.GSM7, 2),
        ("工" * 70, SmsEncoding.UCS2, 1),
        ("工" * 71, SmsEncoding.UCS2, 2),
        ("工" * 134, SmsEncoding.UCS2, 2),
        ("工" * 135, SmsEncoding.UCS2, 3),
        ("a" * 159 + "工", SmsEncoding.UCS2, 3),
        ("😀" * 35, SmsEncoding.UCS2, 1),  # 70 UTF-16 units
        ("😀" * 36, SmsEncoding.UCS2, 2),
    ],
)
def test_limits_table(text: str, encoding: SmsEncoding, parts: int) -> None:
    msg = segment(text)
    assert msg.encoding is encoding
    assert len(msg.parts) == parts


def test_udh_layout_and_flags() -> None:
    msg = segment("工" * 100, ref=0xAB)
    assert [p.payload[:6].hex() for p in msg.parts] == ["050003ab0201", "050003ab0202"]
    assert all(p.esm_class == ESM_CLASS_UDHI and p.data_coding == 8 for p in msg.parts)
    assert len(msg.parts[0].payload) == 6 + 67 * 2
    single = segment("hello")
    assert single.parts[0].esm_class == 0 and single.parts[0].payload == b"hello"[:0] + bytes(
        GSM7_BASIC.index(c) for c in "hello"
    )


def test_surrogate_pair_not_split_at_boundary() -> None:
    text = "工" * 66 + "😀" + "工" * 10  # the emoji would straddle units 67/68
    parts = split_text(text)
    assert parts[0] == "工" * 66 and parts[1].startswith("😀")


def test_gsm_escape_not_split_at_boundary() -> None:
    text = "a" * 152 + "€" + "b" * 10
    parts = split_text(text)
    assert parts[0] == "a" * 152 and parts[1].startswith("€")


def _check(text: str, ref: int) -> None:
    msg = segment(text, ref)
    assert "".join(p.text for p in msg.parts) == text
    assert reassemble(list(msg.parts)) == text
    enc = msg.encoding
    limit = enc.single_limit if len(msg.parts) == 1 else enc.part_limit
    for i, part in enumerate(msg.parts, start=1):
        assert unit_length(part.text, enc) <= limit
        assert len(part.payload) <= 140 if enc is SmsEncoding.UCS2 else len(part.payload) <= 160
        concat, decoded = decode_part(part.payload, part.data_coding, part.esm_class)
        assert decoded == part.text
        if len(msg.parts) > 1:
            assert concat is not None and (concat.ref, concat.total, concat.seq) == (ref, len(msg.parts), i)
            assert parse_udh(part.payload)[1] == part.payload[6:]
    if len(msg.parts) > 1:  # parts are as full as possible: only the last may be short
        for part in msg.parts[:-1]:
            assert unit_length(part.text, enc) > enc.part_limit - 2


@settings(max_examples=300)
@given(any_text, st.integers(0, 255))
def test_parts_rejoin_and_fit_any_text(text: str, ref: int) -> None:
    _check(text, ref)


@settings(max_examples=200)
@given(gsm_text)
def test_gsm_text_stays_gsm7(text: str) -> None:
    assert detect_encoding(text) is SmsEncoding.GSM7
    _check(text, 7)


@settings(max_examples=200)
@given(cjk_emoji_text)
def test_cjk_and_astral_text(text: str) -> None:
    _check(text, 200)


@settings(max_examples=300)
@given(st.one_of(any_text, gsm_text, cjk_emoji_text))
def test_the_string_method_counts_and_encoding_match_the_per_character_rules(text: str) -> None:
    # is_gsm7, unit_length and encode_text use str methods and tables; the rules are per character
    assert is_gsm7(text) == all(ch in GSM_CHARS for ch in text)
    for enc in SmsEncoding:
        assert unit_length(text, enc) == sum(char_units(ch, enc) for ch in text)
    if is_gsm7(text):
        septets = b"".join(bytes((0x1B, GSM7_EXTENSION[ch])) if ch in GSM7_EXTENSION else bytes((GSM7_BASIC.index(ch),))
                           for ch in text)
        assert encode_text(text, SmsEncoding.GSM7) == septets
    else:
        with pytest.raises(ValueError, match=r"not in the GSM 03\.38 alphabet"):
            encode_text(text, SmsEncoding.GSM7)
