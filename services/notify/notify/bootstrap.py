"""Notify's composition root: settings → its parts → the runtime with its consumer and workers.

    alert consumer (sla.alerts) ──queues rows──▶ dispatch workers (per channel) ──▶ SMTP / SMPP
                                   wake ▲                      │ outcome + event
    digest worker ──queues summaries────┘                      ▼
    lease holder (liveness lock) · recovery (rows of dead instances) · SMPP session · receipts
"""

from __future__ import annotations

from backbone.runtime import Infra, ServiceRuntime
from backbone.topics import SLA_ALERTS, STATS_REPORTS
from backbone.workers import Backoff
from notify.channels.base import Channel
from notify.channels.email import EmailChannel, SmtpSender
from notify.channels.sms import SmsChannel
from notify.consumers import make_handlers, make_run_applier
from notify.context import DispatchParts, NotifyContext
from notify.digests import DigestWorker
from notify.dispatch.lease import Lease, LeaseHolder, recovery_worker
from notify.dispatch.outcomes import Outcomes
from notify.dispatch.receipts import Receipts
from notify.dispatch.wakeup import Wakeup
from notify.dispatch.workers import DispatchWorker
from notify.domain.templates import load_templates
from notify.models import metadata
from notify.services.directory import DirectoryCache
from notify.settings import NotifySettings
from notify.smpp.client import SmppClient
from notify.smpp.keeper import SmppSessionKeeper


def build_dispatch(infra: Infra, settings: NotifySettings) -> DispatchParts:
    receipts = Receipts(infra.session_factory)
    # SMPP_BINDS long-lived, windowed SMPP sessions per process; their receipts update the delivery rows.
    url = settings.smpp_url
    smpp = tuple(
        SmppClient(url, on_dlr=receipts.on_dlr, submit_timeout=settings.smpp_submit_timeout_s,
                   window=settings.smpp_window)
        for _ in range(settings.smpp_binds)
    ) if url else ()
    smtp = SmtpSender(settings.smtp_url, settings.mail_from, connections=settings.smtp_connections)
    channels: dict[str, Channel] = {"email": EmailChannel(smtp), "sms": SmsChannel(smpp, infra.engine)}
    outcomes = Outcomes(
        infra.session_factory, max_attempts=settings.max_send_attempts,
        backoff=Backoff(initial_s=settings.send_backoff_initial_s, max_s=settings.send_backoff_max_s),
        unreachable_window_s=settings.send_unreachable_window_s,
    )
    return DispatchParts(lease=Lease(), wakeup=Wakeup(tuple(channels)), channels=channels, outcomes=outcomes,
                         receipts=receipts, smtp=smtp, smpp=smpp)


def bootstrap(settings: NotifySettings | None = None) -> ServiceRuntime[NotifyContext]:
    settings = settings or NotifySettings()
    infra = Infra.create(settings, metadata)
    dispatch = build_dispatch(infra, settings)
    context = NotifyContext(
        settings=settings,
        directory=DirectoryCache(settings.directory_file),
        templates=load_templates(settings.templates_dir, max_sms_parts=settings.max_sms_parts),
        dispatch=dispatch,
    )
    runtime = ServiceRuntime(infra, context)
    wake = dispatch.wakeup.wake
    handlers = make_handlers(context, on_queued=wake)
    consumer = runtime.add_consumer(topics=[SLA_ALERTS, STATS_REPORTS], handlers=handlers,
                                    apply_run=make_run_applier(context, handlers, on_queued=wake)
                                    if settings.set_based_consumer else None)

    runtime.add_worker(LeaseHolder(infra.engine, dispatch.lease))
    runtime.add_worker(recovery_worker(infra.engine, dispatch.lease, settings.recovery_interval_s, on_recovered=wake))
    workers_per_channel = {"email": settings.email_workers, "sms": settings.sms_workers}
    for name, channel in dispatch.channels.items():
        for index in range(workers_per_channel[name]):
            # Worker 0 of a channel also polls (rows of other instances, retries coming due).
            runtime.add_worker(DispatchWorker(
                channel, index, parts=dispatch, engine=infra.engine,
                poll_s=settings.dispatch_interval_s if index == 0 else None, batch=settings.dispatch_batch,
                idle_poll_s=settings.dispatch_idle_poll_s,
            ))
    for i, client in enumerate(dispatch.smpp):
        runtime.add_worker(SmppSessionKeeper(client, name=f"notify-smpp-session-{i}"))
        runtime.on_stop(client.close)
    digests = DigestWorker(
        infra.session_factory, directory=context.directory, templates=context.templates, settings=settings,
        on_queued=wake,
    )
    consumer.wake_on_commit(digests)  # an idle digest worker looks again once alerts were applied
    runtime.add_worker(digests)
    runtime.on_stop(dispatch.smtp.close)
    return runtime
