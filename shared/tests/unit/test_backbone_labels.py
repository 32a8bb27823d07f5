from __future__ import annotations

from pathlib import Path

import pytest

from backbone.labels import LANGUAGES, InvalidLabels, LabelCategory, labels, load_labels
from backbone.vocabulary import (
    GENERIC_COMPLAINT,
    NodeRole,
    ProductId,
    Tier,
    TokenRole,
    WorkflowKind,
    business_type,
    business_type_of_complaint,
    is_business_type,
)


def test_every_shared_word_has_a_label_in_every_language() -> None:
    lab = labels()
    assert lab.missing(LabelCategory.PRODUCT, list(ProductId)) == []
    assert lab.missing(LabelCategory.BUSINESS_KIND, list(WorkflowKind)) == []
    assert lab.missing(LabelCategory.ROLE, [*NodeRole, *TokenRole]) == []
    assert lab.missing(LabelCategory.TIER, list(Tier)) == []
    every_type = [business_type(p, k) for p in ProductId for k in WorkflowKind] + [GENERIC_COMPLAINT]
    assert lab.missing(LabelCategory.BUSINESS_TYPE, every_type) == []


def test_business_types_are_labelled_from_their_parts_unless_named() -> None:
    lab = labels()
    assert lab.label(LabelCategory.BUSINESS_TYPE, "vpmn.opening", "zh-CN") == "集团V网(VPMN)开通"
    assert lab.label(LabelCategory.BUSINESS_TYPE, "vpmn.opening", "en") == "VPMN opening"
    assert lab.label("business_type", GENERIC_COMPLAINT, "zh-CN") == "投诉/故障(未指明产品)"
    assert lab.get(LabelCategory.BUSINESS_TYPE, "teleport.opening", "en") is None


def test_an_unknown_code_never_reads_as_the_raw_code() -> None:
    lab = labels()
    assert lab.label(LabelCategory.NODE, "resource_check", "zh-CN") == "资源核查"
    assert lab.label(LabelCategory.NODE, "brand_new_step", "zh-CN") == "brand new step"
    assert lab.label(LabelCategory.BUSINESS_TYPE, "teleport.opening", "en") == "teleport opening"
    assert lab.label(LabelCategory.ROLE, None, "en") == ""


def test_tables_per_language() -> None:
    for lang in LANGUAGES:
        table = labels().table(LabelCategory.TICKET_KIND, lang)
        assert set(table) == {"resource_confirmation", "resource_preoccupation", "service_opening", "complaint_fault"}


def test_a_broken_labels_file_names_every_problem(tmp_path: Path) -> None:
    f = tmp_path / "labels.yaml"
    f.write_text("node:\n  a_b: {zh-CN: 甲}\n  c: {zh-CN: 丙, en: c, fr: c}\ncolour: {}\n", encoding="utf-8")
    with pytest.raises(InvalidLabels) as err:
        load_labels(f)
    msg = str(err.value)
    assert "node.a_b: no en label" in msg and "node.c: unknown language(s) fr" in msg and "colour: unknown" in msg
    f.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InvalidLabels, match="mapping"):
        load_labels(f)


def test_business_type_words() -> None:
    assert business_type_of_complaint("m2m") == "m2m.complaint"
    assert business_type_of_complaint(None) == business_type_of_complaint("") == GENERIC_COMPLAINT
    assert is_business_type("m2m.change") and is_business_type(GENERIC_COMPLAINT)
    assert not is_business_type("generic.opening") and not is_business_type("m2m") and not is_business_type("x.change")
