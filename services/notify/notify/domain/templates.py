"""Message templates as data: Jinja2 (sandboxed, StrictUndefined) files in ``notify/templates/``.

Layout: ``<lang>/<event type>/sms.txt.j2`` and ``email.subject.j2`` + ``email.txt.j2`` +
``email.html.j2`` for every language in :data:`LANGUAGES` and every event type in
:data:`EVENT_TYPES` (``digest`` is the anti-storm summary). Files starting with ``_`` are
partials (layouts, includes). ``texts.yaml`` holds the words that are not templates (the footer, why
a person receives an alert), ``samples.yaml`` the sample data every template is test-rendered with
when the store is loaded, so that a syntax error, an unknown variable, a sandbox violation or an SMS
longer than ``max_sms_parts`` segments is a :class:`TemplateLoadError` naming the file at start-up,
never at send time.

A message never shows a raw code: templates pass codes through the ``label`` filter
(``node|label("node")``, ``business_type|label("business_type")``), which reads the suite's labels
(``backbone.labels``: one file for every service); a code without a label reads humanized.
The reasons of an alert (``whys``, from ``resolve_recipients``) become ``reason`` in the
recipient's language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment

from backbone.labels import LabelCategory, Labels, labels
from notify.domain.directory import AlertData, Directory, Person, Why, WhyKind
from notify.domain.sms import SmsEncoding, detect_encoding, split_text, unit_length

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
LANGUAGES: tuple[str, ...] = ("zh-CN", "en")
#: `stats.report.generated`: the daily report, e-mailed to the managers with its CSV attached (docs/stats.md).
EVENT_TYPES: tuple[str, ...] = ("sla.warning", "sla.breached", "sla.escalated", "digest", "stats.report.generated")
CHANNELS: tuple[str, ...] = ("sms", "email")
SMS_FILE = "sms.txt.j2"
EMAIL_FILES = {"subject": "email.subject.j2", "text": "email.txt.j2", "html": "email.html.j2"}
DEFAULT_TZ = "Asia/Shanghai"

ChannelName = Literal["sms", "email"]
#: texts.yaml key of the on-duty reason when the event named an assignee the directory does not know
_UNKNOWN_ASSIGNEE = "on_duty_unknown_assignee"


class TemplateLoadError(Exception):
    def __init__(self, file: str, message: str, line: int | None = None) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"template {where}: {message}")
        self.file = file
        self.line = line
        self.message = message


class TemplateRenderError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class RenderedSms:
    text: str
    encoding: SmsEncoding
    units: int
    parts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


Rendered = RenderedSms | RenderedEmail


_LABELS_REMEMBERED = 10_000  # codes come from events: the memory of `TemplateStore.label` stays bounded

# ------------------------------------------------------------------ filters


def _duration(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return "—" if lang == "zh-CN" else "n/a"
    minutes = max(0, round(abs(seconds) / 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if lang == "zh-CN":
        units = (("天", days), ("小时", hours), ("分钟", mins))
        text = "".join(f"{v}{u}" for u, v in units if v)
        return text or "不到1分钟"
    en = (("d", days), ("h", hours), ("min", mins))
    return " ".join(f"{v} {u}" for u, v in en if v) or "<1 min"


def _localtime(value: datetime | str, tz: str) -> str:
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    if dt.tzinfo is not None:
        dt = dt.astimezone(ZoneInfo(tz))
    return dt.strftime("%m-%d %H:%M")


# ------------------------------------------------------------------ store


class TemplateStore:
    def __init__(self, directory: Path | str | None = None, *, max_sms_parts: int = 3,
                 labels_: Labels | None = None) -> None:
        self.directory = Path(directory or TEMPLATE_DIR)
        self.max_sms_parts = max_sms_parts
        self.labels = labels_ if labels_ is not None else labels()
        self.texts: dict[str, dict[str, Any]] = self._read_yaml("texts.yaml")
        self.samples: dict[str, dict[str, Any]] = self._read_yaml("samples.yaml")
        self.env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(self.directory)),
            undefined=jinja2.StrictUndefined,
            autoescape=lambda name: bool(name and name.endswith(".html.j2")),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
        )
        self.env.filters["duration"] = jinja2.pass_context(lambda ctx, s: _duration(s, ctx.get("lang", "en")))
        self.env.filters["localtime"] = jinja2.pass_context(
            lambda ctx, v: _localtime(v, ctx.get("timezone", DEFAULT_TZ))
        )
        self.env.filters["label"] = jinja2.pass_context(lambda ctx, v, cat: self.label(ctx.get("lang", "en"), cat, v))
        self._templates: dict[str, jinja2.Template] = {}
        self._labels: dict[tuple[str, str, str | None], str] = {}
        self._load()

    # ------------------------------------------------------------ loading

    def _read_yaml(self, name: str) -> dict[str, Any]:
        path = self.directory / name
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise TemplateLoadError(name, "file missing") from exc
        except yaml.YAMLError as exc:
            raise TemplateLoadError(name, f"invalid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise TemplateLoadError(name, "must be a mapping")
        return data

    @staticmethod
    def _name(lang: str, event_type: str, file: str) -> str:
        return f"{lang}/{event_type}/{file}"

    def _compile(self, name: str) -> jinja2.Template:
        try:
            return self.env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            raise TemplateLoadError(name, f"missing (needs {exc.name})") from exc
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateLoadError(exc.name or name, exc.message or "syntax error", exc.lineno) from exc

    def _load(self) -> None:
        for partial in sorted(self.directory.rglob("_*.j2")):
            self._compile(partial.relative_to(self.directory).as_posix())
        for lang in LANGUAGES:
            self._check_texts(lang)
            for event_type in EVENT_TYPES:
                if event_type not in self.samples:
                    raise TemplateLoadError("samples.yaml", f"no sample for {event_type}")
                for file in (SMS_FILE, *EMAIL_FILES.values()):
                    name = self._name(lang, event_type, file)
                    self._templates[name] = self._compile(name)
                # test-render with the sample data: errors surface now, with the file name
                for channel in CHANNELS:
                    rendered = self._render(event_type, channel, lang, self.samples[event_type])
                    if isinstance(rendered, RenderedSms) and len(rendered.parts) > self.max_sms_parts:
                        raise TemplateLoadError(
                            self._name(lang, event_type, SMS_FILE),
                            f"sample SMS needs {len(rendered.parts)} segments "
                            f"({rendered.encoding.value}, {rendered.units} units), "
                            f"more than {self.max_sms_parts}",
                        )
                    if isinstance(rendered, RenderedEmail) and "\n" in rendered.subject:
                        raise TemplateLoadError(
                            self._name(lang, event_type, EMAIL_FILES["subject"]),
                            "subject renders to more than one line",
                        )

    def _check_texts(self, lang: str) -> None:
        texts = self.texts.get(lang)
        if not isinstance(texts, dict) or not isinstance(texts.get("footer"), str):
            raise TemplateLoadError("texts.yaml", f"no footer for {lang}")
        why = texts.get("why")
        if not isinstance(why, dict):
            raise TemplateLoadError("texts.yaml", f"{lang}: no why texts")
        missing = sorted(({k.value for k in WhyKind} | {_UNKNOWN_ASSIGNEE}) - set(why))
        if missing:
            raise TemplateLoadError("texts.yaml", f"{lang}: no why text for {', '.join(missing)}")
        sample = {"node": "n", "role": "r", "customer": "c", "department": "d", "level": 1}
        for kind, text in why.items():
            try:
                str(text).format(**sample)
            except (KeyError, IndexError, ValueError) as exc:
                raise TemplateLoadError("texts.yaml", f"{lang}.why.{kind}: bad placeholder {exc}") from exc

    # ------------------------------------------------------------ rendering

    def label(self, lang: str, category: str, code: str | None) -> str:
        """The label of a code in ``lang`` (the suite's labels); an unknown code reads humanized, never raw.
        Remembered (the labels are immutable; every alert's templates ask for the same few codes)."""
        key = (lang, category, code)
        found = self._labels.get(key)
        if found is None:
            found = self.labels.label(LabelCategory(category), code, lang)
            if len(self._labels) < _LABELS_REMEMBERED:
                self._labels[key] = found
        return found

    def reason_text(self, lang: str, whys: Sequence[Mapping[str, Any]], context: Mapping[str, Any]) -> str:
        """Why the recipient gets this alert (``alert_context``'s ``whys``), in ``lang``: the labels of the
        node and role, the names of the customer and departments."""
        texts = self.texts[lang]
        parts: list[str] = []
        for why in whys:
            kind = WhyKind(why["kind"])
            key = _UNKNOWN_ASSIGNEE if kind is WhyKind.ON_DUTY and why.get("unknown_assignee") else kind.value
            parts.append(str(texts["why"][key]).format(
                node=self.label(lang, LabelCategory.NODE, context.get("node")),
                role=self.label(lang, LabelCategory.ROLE, context.get("role")),
                customer=context.get("customer_name", ""),
                department=why.get("department_name") or why.get("department") or "",
                level=why.get("level") or "",
            ))
        return str(texts["why_separator"]).join(parts)

    def _context(self, lang: str, context: Mapping[str, Any]) -> dict[str, Any]:
        out = {"lang": lang, "timezone": DEFAULT_TZ, "footer": self.texts[lang]["footer"], **context}
        if "whys" in context:
            out["reason"] = self.reason_text(lang, context["whys"], context)
        return out

    def _render_one(self, name: str, ctx: Mapping[str, Any]) -> str:
        template = self._templates.get(name)
        if template is None:
            raise TemplateRenderError(f"no template {name}")
        try:
            return template.render(ctx)
        except jinja2.TemplateSyntaxError as exc:  # in an included / extended partial
            raise TemplateLoadError(exc.name or name, exc.message or "syntax error", exc.lineno) from exc
        except jinja2.TemplateError as exc:  # UndefinedError, SecurityError, …
            raise TemplateLoadError(name, f"{type(exc).__name__}: {exc}") from exc
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise TemplateLoadError(name, f"{type(exc).__name__}: {exc}") from exc

    def _render(self, event_type: str, channel: str, lang: str, context: Mapping[str, Any]) -> Rendered:
        if lang not in LANGUAGES:
            raise TemplateRenderError(f"unsupported language {lang!r}")
        ctx = self._context(lang, context)
        if channel == "sms":
            text = " ".join(self._render_one(self._name(lang, event_type, SMS_FILE), ctx).split())
            enc = detect_encoding(text)
            return RenderedSms(text, enc, unit_length(text, enc), tuple(split_text(text, enc)))
        if channel == "email":
            out = {key: self._render_one(self._name(lang, event_type, file), ctx) for key, file in EMAIL_FILES.items()}
            return RenderedEmail(out["subject"].strip(), out["text"].strip() + "\n", out["html"])
        raise TemplateRenderError(f"unknown channel {channel!r}")

    def render(self, event_type: str, channel: str, lang: str, context: Mapping[str, Any]) -> Rendered:
        """Render a template. A failure here is a :class:`TemplateRenderError` (bad request) or,
        if the data lacks a variable the template needs, a :class:`TemplateLoadError`."""
        return self._render(event_type, channel, lang, context)

    def preview(
        self,
        event_type: str,
        channel: str,
        lang: str,
        sample: Mapping[str, Any] | None = None,
    ) -> Rendered:
        """Render with the stored sample, overlaid with ``sample`` (for the admin API)."""
        base = dict(self.samples.get(event_type, {}))
        base.update(sample or {})
        return self._render(event_type, channel, lang, base)


def alert_context(alert: AlertData, recipient: Person, directory: Directory, reason: str = "",
                  whys: Sequence[Why] = ()) -> dict[str, Any]:
    """Template variables for an ``sla.*`` alert sent to ``recipient``; with ``whys`` the templates' ``reason``
    says them in the recipient's language (else ``reason`` as given)."""
    assignee = directory.person(alert.assignee)
    am = directory.account_manager(alert.customer_id, alert.account_manager_id)
    unassigned = "未指派" if recipient.language == "zh-CN" else "unassigned"
    out = {
        **alert.model_dump(),
        "assignee_name": assignee.name if assignee else (alert.assignee or unassigned),
        "account_manager_name": am.name if am else (alert.account_manager_id or "—"),
        "recipient_name": recipient.name,
        "reason": reason,
        "timezone": recipient.timezone,
    }
    if whys:
        out["whys"] = [{**w.model_dump(mode="json"), "department_name": _department_name(directory, w.department)}
                       for w in whys]
    return out


def _department_name(directory: Directory, department_id: str | None) -> str | None:
    dept = directory.department(department_id) if department_id else None
    return dept.name if dept is not None else department_id


def digest_context(recipient: Person, alerts: list[tuple[str, AlertData]], window_minutes: int) -> dict[str, Any]:
    return {
        "recipient_name": recipient.name,
        "window_minutes": window_minutes,
        "count": len(alerts),
        "items": [{"event_type": et, **a.model_dump()} for et, a in alerts],
        "timezone": recipient.timezone,
    }


def load_templates(directory: Path | str | None = None, *, max_sms_parts: int = 3) -> TemplateStore:
    return TemplateStore(directory, max_sms_parts=max_sms_parts)
