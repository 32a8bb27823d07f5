"""What a reader must never see in a notification: the suite's codes (business types, ticket kinds, nodes,
roles, products), as the shipped catalogs have them. Used by the contract test of the templates and by the
e2e test on what the SMSC and the SMTP server received."""

from __future__ import annotations

import re
from functools import cache

from backbone.labels import LabelCategory
from backbone.vocabulary import NodeRole, ProductId, TokenRole, WorkflowKind
from eoms_bridge.workflows_loader import load_catalog

#: snake_case or dotted lowercase identifiers ("vpmn.opening", "resource_check"): never meant for a reader.
#: An id such as tkt_0190f3c2a1b4… has a segment starting with a digit and is not matched.
IDENTIFIER = re.compile(r"(?<![\w.@-])[a-z][a-z0-9]*(?:[._][a-z][a-z0-9]*)+(?![\w@-])")


@cache
def catalog_codes() -> dict[LabelCategory, frozenset[str]]:
    """Every code of the shipped workflows and of the shared vocabulary, by label category."""
    workflows = load_catalog().all_latest()
    nodes = [n for w in workflows for t in w.tickets for n in t.nodes]
    return {
        LabelCategory.PRODUCT: frozenset(p.value for p in ProductId),
        LabelCategory.BUSINESS_KIND: frozenset(k.value for k in WorkflowKind),
        LabelCategory.BUSINESS_TYPE: frozenset(w.business_type for w in workflows),
        LabelCategory.TICKET_KIND: frozenset(t.kind.value for w in workflows for t in w.tickets),
        LabelCategory.NODE: frozenset(n.name for n in nodes),
        LabelCategory.ROLE: frozenset({n.role.value for n in nodes} | {r.value for r in NodeRole}
                                      | {r.value for r in TokenRole}),
    }


def _words(codes: frozenset[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(c) for c in sorted(codes, key=len, reverse=True))
    return re.compile(rf"(?<![\w.])(?:{alternatives})(?![\w]|\.[a-z])")


@cache
def _code_words(lang: str) -> re.Pattern[str]:
    codes = catalog_codes()
    if lang == "zh-CN":  # in Chinese text any code word is a raw code
        return _words(frozenset().union(*codes.values()))
    # In English a one-word code ("testing", "transmission") reads as the word it is: only product ids.
    return _words(codes[LabelCategory.PRODUCT])


def raw_codes(text: str, lang: str | None = None) -> list[str]:
    """The codes a reader would see in ``text`` (``lang`` None: guessed from the text's script)."""
    if lang is None:
        lang = "zh-CN" if re.search(r"[\u4e00-\u9fff]", text) else "en"
    return sorted(set(IDENTIFIER.findall(text)) | set(_code_words(lang).findall(text)))
