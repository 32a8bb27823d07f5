"""The statistics service's composition root: settings → context (the roster, validated: a broken file stops
the start) → runtime with the consumer of every topic the read model is fed by, and the daily report's
scheduler."""

from __future__ import annotations

from backbone.runtime import Infra, ServiceRuntime
from stats.consumers import make_batch_applier, make_handlers
from stats.context import StatsContext
from stats.domain.roster import load_roster
from stats.models import metadata
from stats.scheduler import DailyReportScheduler
from stats.services.rebuild import TOPICS
from stats.settings import StatsSettings


def bootstrap(settings: StatsSettings | None = None) -> ServiceRuntime[StatsContext]:
    settings = settings or StatsSettings()
    context = StatsContext(settings=settings, roster=load_roster(settings.stats_roster_file))
    runtime = ServiceRuntime(Infra.create(settings, metadata), context)
    runtime.add_consumer(topics=list(TOPICS), handlers=make_handlers(), apply_run=make_batch_applier())
    if settings.run_report_scheduler:
        runtime.add_worker(DailyReportScheduler(
            runtime.session_factory, context.roster, at=settings.report_time,
            catch_up_days=settings.report_catch_up_days, interval_s=settings.report_check_interval_s,
            instance_id=settings.instance_id,
        ))
    return runtime
