"""What notify's bootstrap builds and injects: its settings, directory, templates and dispatch parts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from notify.channels.base import Channel
from notify.channels.email import SmtpSender
from notify.dispatch.lease import Lease
from notify.dispatch.outcomes import Outcomes
from notify.dispatch.receipts import Receipts
from notify.dispatch.wakeup import Wakeup
from notify.domain.templates import TemplateStore
from notify.services.directory import DirectoryCache
from notify.settings import NotifySettings
from notify.smpp.client import SmppClient


@dataclass(frozen=True)
class DispatchParts:
    """The sending side, shared by the dispatch workers of one process."""

    lease: Lease  # this instance's id and liveness lock
    wakeup: Wakeup  # idle workers; woken after a commit that queued rows
    channels: Mapping[str, Channel]  # "email" → SMTP, "sms" → SMPP
    outcomes: Outcomes  # sent / retrying / failed, with their events
    receipts: Receipts  # SMSC delivery receipts
    smtp: SmtpSender
    smpp: tuple[SmppClient, ...]  # SMPP_BINDS sessions; none without SMPP_URL (SMS then fail for good)


@dataclass(frozen=True)
class NotifyContext:
    settings: NotifySettings
    directory: DirectoryCache
    templates: TemplateStore
    dispatch: DispatchParts
