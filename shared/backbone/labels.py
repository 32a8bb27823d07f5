"""Display labels of the suite's codes (products, business kinds and types, ticket kinds, nodes, roles,
tiers, node outcomes, alert types) in zh-CN and en: the one source any text meant for a person takes them from.

The data is ``backbone/labels.yaml``, checked when loaded (every entry has a non-empty text in every
language of :data:`LANGUAGES`). ``labels()`` is the packaged file, loaded once.

- ``Labels.get(category, code, lang)``: the label, or ``None`` when there is none;
- ``Labels.label(category, code, lang)``: the label, or for an unknown code a readable stand-in
  (``"new_step"`` → ``"new step"``), never the raw code;
- ``Labels.business_type(value, lang)``: a ``business_type`` entry, else ``<product><kind>``
  composed from the parts (``"集团V网(VPMN)开通"``, ``"VPMN opening"``);
- ``Labels.missing(category, codes)``: the codes without a label (for the coverage tests);
- ``Labels.text(category, code)``: a ``LocalText``, the label in every language (an API's view of a code).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import ConfigDict, Field

from backbone.shapes import FrozenModel

__all__ = ["LABELS_FILE", "LANGUAGES", "InvalidLabels", "LabelCategory", "Labels", "LocalText", "labels",
           "load_labels"]

LABELS_FILE: Final[Path] = Path(__file__).resolve().parent / "labels.yaml"
LANGUAGES: Final[tuple[str, ...]] = ("zh-CN", "en")

#: How a business type's label is made of its product's and its kind's.
_COMPOSE: Final[Mapping[str, str]] = {"zh-CN": "{product}{kind}", "en": "{product} {kind}"}


class LabelCategory(StrEnum):
    PRODUCT = "product"
    BUSINESS_KIND = "business_kind"
    BUSINESS_TYPE = "business_type"
    TICKET_KIND = "ticket_kind"
    ROLE = "role"
    NODE = "node"
    OUTCOME = "outcome"
    TIER = "tier"
    EVENT = "event"


class LocalText(FrozenModel):
    """A text in every language of the suite, keyed as a front end's locale (`{"zh-CN": …, "en": …}`)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    zh_cn: str = Field(alias="zh-CN")
    en: str


class InvalidLabels(ValueError):
    """The labels file is not a mapping of category → code → language → text covering every language."""


def humanize(code: str) -> str:
    """A readable stand-in for a code without a label: separators become spaces."""
    return " ".join(code.replace(".", " ").replace("_", " ").split()) or code


class Labels:
    """Labels by category, code and language (immutable once built)."""

    def __init__(self, data: Mapping[str, Mapping[str, Mapping[str, str]]]) -> None:
        self._data: dict[str, dict[str, dict[str, str]]] = {
            cat: {code: dict(texts) for code, texts in entries.items()} for cat, entries in data.items()
        }

    def get(self, category: LabelCategory | str, code: str, lang: str) -> str | None:
        if LabelCategory(category) is LabelCategory.BUSINESS_TYPE:
            return self.business_type(code, lang)
        return self._data.get(str(category), {}).get(code, {}).get(lang)

    def label(self, category: LabelCategory | str, code: str | None, lang: str) -> str:
        """The label of ``code``; an unknown code reads as :func:`humanize` of it, never as the raw code."""
        if code is None or code == "":
            return ""
        found = self.get(category, code, lang)
        return found if found is not None else humanize(code)

    def business_type(self, value: str, lang: str) -> str | None:
        explicit = self._data.get(LabelCategory.BUSINESS_TYPE, {}).get(value, {}).get(lang)
        if explicit is not None:
            return explicit
        scope, sep, kind = value.partition(".")
        if not sep:
            return None
        product = self._data.get(LabelCategory.PRODUCT, {}).get(scope, {}).get(lang)
        kind_label = self._data.get(LabelCategory.BUSINESS_KIND, {}).get(kind, {}).get(lang)
        if product is None or kind_label is None or lang not in _COMPOSE:
            return None
        return _COMPOSE[lang].format(product=product, kind=kind_label)

    def text(self, category: LabelCategory | str, code: str, *, zh: str | None = None) -> LocalText:
        """The label of ``code`` in every language (`label`'s stand-in for an unknown code); ``zh`` overrides
        the Chinese one (a workflow's own ``title_zh`` of a node)."""
        return LocalText(zh_cn=zh or self.label(category, code, "zh-CN"), en=self.label(category, code, "en"))

    def codes(self, category: LabelCategory | str) -> frozenset[str]:
        return frozenset(self._data.get(str(category), {}))

    def missing(self, category: LabelCategory | str, codes: Iterable[str]) -> list[str]:
        """``"<code> (<lang>)"`` for every code of ``codes`` without a label in some language, sorted."""
        return sorted({f"{code} ({lang})" for code in codes for lang in LANGUAGES
                       if self.get(category, code, lang) is None})

    def table(self, category: LabelCategory | str, lang: str) -> dict[str, str]:
        """Every code of a category with its label in ``lang`` (e.g. for a front end's dictionary)."""
        return {code: texts[lang] for code, texts in self._data.get(str(category), {}).items()}


def _check(raw: Any, source: str) -> dict[str, dict[str, dict[str, str]]]:
    if not isinstance(raw, Mapping):
        raise InvalidLabels(f"{source}: must be a mapping of categories")
    problems: list[str] = []
    known = {c.value for c in LabelCategory}
    for cat, entries in raw.items():
        if cat not in known:
            problems.append(f"{cat}: unknown category (known: {', '.join(sorted(known))})")
            continue
        if not isinstance(entries, Mapping):
            problems.append(f"{cat}: must map codes to their labels")
            continue
        for code, texts in entries.items():
            if not isinstance(texts, Mapping):
                problems.append(f"{cat}.{code}: must map languages to texts")
                continue
            for lang in LANGUAGES:
                text = texts.get(lang)
                if not isinstance(text, str) or not text.strip():
                    problems.append(f"{cat}.{code}: no {lang} label")
            extra = set(texts) - set(LANGUAGES)
            if extra:
                problems.append(f"{cat}.{code}: unknown language(s) {', '.join(sorted(map(str, extra)))}")
    if problems:
        raise InvalidLabels(f"{source}: " + "; ".join(problems))
    return {str(cat): {str(code): {str(k): str(v) for k, v in texts.items()} for code, texts in entries.items()}
            for cat, entries in raw.items()}


def load_labels(path: Path | str | None = None) -> Labels:
    """Read and check a labels file (default: the packaged ``backbone/labels.yaml``)."""
    file = Path(path) if path is not None else LABELS_FILE
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidLabels(f"{file.name}: cannot read: {exc}") from exc
    return Labels(_check(raw, file.name))


@lru_cache(maxsize=1)
def labels() -> Labels:
    """The packaged labels, loaded and checked once."""
    return load_labels()
