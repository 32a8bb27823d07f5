from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.domain.uscc import (
    CHARSET,
    PROVINCE_PREFIXES,
    REGISTRATION_AUTHORITIES,
    InvalidUSCC,
    complete_uscc,
    compute_check_char,
    compute_org_check_char,
    is_valid_uscc,
    validate_uscc,
)

# Real published codes (public company registrations) used to verify both check algorithms.
REAL_CODES = [
    "91350100M000100Y43",
    "914403001922038216",
    "91440300708461136T",
    "91110108551385082Q",
    "91350200776049653A",
    "9135021359498494XQ",
    "91350213678251743X",
    "91440101MA5CJQ4N59",
    "91350200MA31E12PXF",
    "91110107082833558H",
    "91420103594531449D",
    "914403006188329255",
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code: str) -> None:
    assert validate_uscc(code) == code


def test_normalises_case_blanks_and_fullwidth() -> None:
    assert validate_uscc("  91350100m000100y43 ") == "91350100M000100Y43"
    assert validate_uscc("９１350100M000100Y43") == "91350100M000100Y43"


def test_compute_check_char_of_known_code() -> None:
    assert compute_check_char("91350100M000100Y4") == "3"
    assert compute_org_check_char("M000100Y") == "4"
    assert compute_org_check_char("70846113") == "6"


def test_compute_check_char_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        compute_check_char("123")
    with pytest.raises(ValueError):
        compute_check_char("91350100M000100I4")


@pytest.mark.parametrize(
    ("code", "reason", "position"),
    [
        ("", "empty", None),
        ("   ", "empty", None),
        ("91350100M000100Y4", "length", None),
        ("91350100M000100Y433", "length", None),
        ("91350100M0001O0Y43", "character", 14),
        ("91350100M000100Y4-", "character", 18),
        ("X1350100M000100Y43", "registration_authority", 1),
        ("94350100M000100Y43", "entity_category", 2),
        ("9135A100M000100Y43", "division_code", 5),
        ("91990100M000100Y43", "division_code", 3),
        ("91350100M000100Y53", "org_code_check", 17),
        ("91350100M000100Y44", "check_character", 18),
    ],
)
def test_reasons(code: str, reason: str, position: int | None) -> None:
    with pytest.raises(InvalidUSCC) as info:
        validate_uscc(code)
    assert info.value.reason == reason
    assert info.value.position == position
    assert info.value.message


def test_messages_are_precise() -> None:
    with pytest.raises(InvalidUSCC, match=r"position 18\) is '4', expected '3'"):
        validate_uscc("91350100M000100Y44")
    with pytest.raises(InvalidUSCC, match="I, O, S, V and Z are never used"):
        validate_uscc("91350100M0001O0Y43")
    with pytest.raises(InvalidUSCC, match="18 characters, got 17"):
        validate_uscc("91350100M000100Y4")


def test_org_code_check_can_be_disabled() -> None:
    body = "91350100M000100Y5"  # wrong org check char, right USCC check char recomputed
    code = body + compute_check_char(body)
    assert not is_valid_uscc(code)
    assert validate_uscc(code, check_org_code=False) == code


def test_non_string_is_rejected() -> None:
    with pytest.raises(InvalidUSCC):
        validate_uscc(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------- properties

_auth = st.sampled_from(sorted(REGISTRATION_AUTHORITIES)).flatmap(
    lambda a: st.sampled_from(sorted(REGISTRATION_AUTHORITIES[a])).map(lambda c: a + c)
)
_division = st.tuples(st.sampled_from(sorted(PROVINCE_PREFIXES)), st.text("0123456789", min_size=4, max_size=4)).map(
    "".join
)
_org8 = st.text(CHARSET, min_size=8, max_size=8)


@st.composite
def valid_codes(draw: st.DrawFn) -> str:
    org8 = draw(_org8)
    body = draw(_auth) + draw(_division) + org8 + compute_org_check_char(org8)
    return body + compute_check_char(body)


@given(valid_codes())
def test_generated_body_with_computed_check_validates(code: str) -> None:
    assert validate_uscc(code) == code


@given(st.text(CHARSET, min_size=17, max_size=17))
def test_any_body_with_computed_check_passes_the_mod31_check(body: str) -> None:
    code = body + compute_check_char(body)
    try:
        validate_uscc(code)
    except InvalidUSCC as exc:  # structure may be wrong, the check character never is
        assert exc.reason != "check_character"


@given(valid_codes(), st.integers(0, 17), st.sampled_from(CHARSET + "IOSVZ*-"))
def test_any_single_character_change_is_rejected(code: str, pos: int, new: str) -> None:
    if code[pos] == new:
        return
    mutated = code[:pos] + new + code[pos + 1 :]
    with pytest.raises(InvalidUSCC):
        validate_uscc(mutated)
    with pytest.raises(InvalidUSCC):
        validate_uscc(mutated, check_org_code=False)


def test_complete_uscc() -> None:
    assert complete_uscc("91350100M000100Y") == "91350100M000100Y43"
    code = complete_uscc("91120000MA05JJ4L")
    assert validate_uscc(code) == code
    with pytest.raises(ValueError):
        complete_uscc("9135")
