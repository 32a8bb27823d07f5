from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from notify.domain.directory import AlertData, load_directory, resolve_recipients
from notify.domain.sms import SmsEncoding
from notify.domain.templates import (
    EVENT_TYPES,
    LANGUAGES,
    TEMPLATE_DIR,
    RenderedEmail,
    RenderedSms,
    TemplateLoadError,
    TemplateRenderError,
    TemplateStore,
    alert_context,
    digest_context,
    load_templates,
)

STORE = load_templates()
DIR = load_directory()
ALERT = AlertData.model_validate(
    {
        "ticket_id": "T-20240611-0042",
        "node": "data_production",
        "business_type": "vpmn.opening",
        "ticket_kind": "service_opening",
        "customer_id": "cus_tj_port",
        "customer_name": "天津港集团有限公司",
        "customer_tier": "A",
        "role": "data_production",
        "assignee": "p-huangjing",
        "account_manager_id": "am_zhang",
        "deadline": datetime(2024, 6, 11, 2, 30, tzinfo=ZoneInfo("UTC")),
        "lateness_seconds": 4500,
        "level": 2,
    }
)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_template_renders(lang: str, event_type: str) -> None:
    sms = STORE.preview(event_type, "sms", lang)
    assert isinstance(sms, RenderedSms) and sms.text and len(sms.parts) <= 3
    mail = STORE.preview(event_type, "email", lang)
    assert isinstance(mail, RenderedEmail)
    assert mail.subject and "\n" not in mail.subject
    assert mail.html.lstrip().startswith("<!DOCTYPE html>") and f'lang="{lang}"' in mail.html


def test_zh_breach_for_real_alert() -> None:
    person = DIR.person("am_zhang")
    assert person is not None
    ctx = alert_context(ALERT, person, DIR, reason="客户经理")
    sms = STORE.render("sla.breached", "sms", "zh-CN", ctx)
    assert isinstance(sms, RenderedSms)
    assert sms.text == (
        "【工单超时】天津港集团有限公司（A类）工单T-20240611-0042“数据制作”环节已超时1小时15分钟"
        "（时限06-11 10:30），处理人：黄静。请立即处理。"
    )
    assert sms.encoding is SmsEncoding.UCS2 and sms.units > 70 and len(sms.parts) == 2
    mail = STORE.render("sla.escalated", "email", "zh-CN", ctx)
    assert isinstance(mail, RenderedEmail)
    assert mail.subject.startswith("【超时升级·2级】")
    assert "客户经理：张伟" in mail.text and "集团V网(VPMN)开通" in mail.text


def test_en_warning_and_labels() -> None:
    person = DIR.person("p-david")
    assert person is not None
    ctx = alert_context(ALERT.model_copy(update={"remaining_seconds": 600.0}), person, DIR, "account manager")
    mail = STORE.render("sla.warning", "email", "en", ctx)
    assert isinstance(mail, RenderedEmail)
    assert "Dear David Miller," in mail.text and "10 min left" in mail.text
    assert "service opening" in mail.text and "data production" in mail.text


def test_why_a_person_gets_an_alert_is_said_in_their_language_without_codes() -> None:
    alert = ALERT.model_copy(update={
        "assignee": None, "node": "fault_repair", "role": "core_network",
        "business_type": "dedicated_line_data.complaint", "ticket_kind": "complaint_fault"})
    at = datetime(2024, 6, 11, 3, 0, tzinfo=ZoneInfo("UTC"))  # 11:00 in Tianjin: on duty p-qinlei
    by_id = {r.person.id: r for r in resolve_recipients("sla.breached", alert, DIR, at)}
    duty = by_id["p-qinlei"]
    assert duty.reason == "on duty for core_network"  # the delivery record keeps the English audit line
    zh = STORE.render("sla.breached", "email", "zh-CN", alert_context(alert, duty.person, DIR, duty.reason, duty.whys))
    assert isinstance(zh, RenderedEmail) and "您收到此邮件的原因：您是核心网值班人员" in zh.text
    sup = by_id["p-liuyang"]
    en_person = sup.person.model_copy(update={"language": "en"})
    en = STORE.render("sla.breached", "email", "en", alert_context(alert, en_person, DIR, sup.reason, sup.whys))
    assert isinstance(en, RenderedEmail)
    assert "You receive this e-mail because: you supervise 网络部" in en.text
    assert 'step "fault repair"' in en.text and "Dedicated line (data) complaint / fault" in en.text
    am = by_id["am_zhang"]
    zh = STORE.render("sla.breached", "email", "zh-CN", alert_context(alert, am.person, DIR, am.reason, am.whys))
    assert isinstance(zh, RenderedEmail) and "您是天津港集团有限公司的客户经理" in zh.text
    for text in (zh.text, zh.html, en.text, en.html):
        for code in ("fault_repair", "core_network", "dedicated_line_data", "complaint_fault", "cus_tj_port"):
            assert code not in text


def test_html_is_escaped_text_is_not() -> None:
    sample = {"customer_name": "<script>x</script>&Co"}
    mail = STORE.preview("sla.breached", "email", "en", sample)
    assert isinstance(mail, RenderedEmail)
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "<script>x</script>&Co" in mail.text


def test_digest() -> None:
    person = DIR.person("am_zhang")
    assert person is not None
    ctx = digest_context(person, [("sla.warning", ALERT), ("sla.breached", ALERT)], 15)
    sms = STORE.render("digest", "sms", "zh-CN", ctx)
    assert isinstance(sms, RenderedSms) and "2条工单提醒" in sms.text


def test_bad_requests() -> None:
    with pytest.raises(TemplateRenderError):
        STORE.preview("sla.warning", "fax", "en")
    with pytest.raises(TemplateRenderError):
        STORE.preview("sla.warning", "sms", "fr")


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, target)
    return target


def test_syntax_error_reported_at_load_with_file(copy: Path) -> None:
    (copy / "en/sla.warning/sms.txt.j2").write_text("hello {{ ticket_id ", encoding="utf-8")
    with pytest.raises(TemplateLoadError) as err:
        TemplateStore(copy)
    assert err.value.file == "en/sla.warning/sms.txt.j2" and err.value.line == 1


def test_unknown_variable_reported_at_load(copy: Path) -> None:
    (copy / "zh-CN/sla.breached/email.txt.j2").write_text("{{ no_such_thing }}", encoding="utf-8")
    with pytest.raises(TemplateLoadError, match=r"zh-CN/sla.breached/email.txt.j2.*no_such_thing"):
        TemplateStore(copy)


def test_sandbox_violation_reported_at_load(copy: Path) -> None:
    (copy / "en/digest/email.subject.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}", encoding="utf-8")
    with pytest.raises(TemplateLoadError, match="SecurityError"):
        TemplateStore(copy)


def test_missing_template_reported(copy: Path) -> None:
    (copy / "en/sla.escalated/email.html.j2").unlink()
    with pytest.raises(TemplateLoadError, match=re.escape("en/sla.escalated/email.html.j2")):
        TemplateStore(copy)


def test_broken_partial_reported_with_its_name(copy: Path) -> None:
    (copy / "_layout.html.j2").write_text("{% block title %}", encoding="utf-8")
    with pytest.raises(TemplateLoadError) as err:
        TemplateStore(copy)
    assert err.value.file == "_layout.html.j2"


def test_too_long_sms_rejected_at_load(copy: Path) -> None:
    (copy / "zh-CN/sla.warning/sms.txt.j2").write_text("工" * 202, encoding="utf-8")
    with pytest.raises(TemplateLoadError, match="4 segments"):
        TemplateStore(copy)


def test_texts_without_a_reason_wording_rejected_at_load(copy: Path) -> None:
    texts = (copy / "texts.yaml").read_text(encoding="utf-8")
    line = "    escalation_head: 超时升级第{level}级：{department}负责人\n"
    (copy / "texts.yaml").write_text(texts.replace(line, ""), encoding="utf-8")
    with pytest.raises(TemplateLoadError, match="zh-CN: no why text for escalation_head"):
        TemplateStore(copy)
    (copy / "texts.yaml").write_text(texts.replace("{customer}的客户经理", "{client}的客户经理"), encoding="utf-8")
    with pytest.raises(TemplateLoadError, match=re.escape("why.account_manager: bad placeholder")):
        TemplateStore(copy)
