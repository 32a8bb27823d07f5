"""`python -m stats.rebuild`: the read model rebuilt from the topics from offset zero (stats.services.rebuild)."""

from __future__ import annotations

import asyncio
import logging

from backbone.db import make_engine, make_session_factory
from backbone.kafka import KafkaSecurity
from stats.models import metadata, outbox
from stats.services.rebuild import rebuild
from stats.settings import StatsSettings


async def main() -> None:
    settings = StatsSettings()
    engine = make_engine(settings.database_url, pool_size=2, schema=metadata.schema)
    try:
        result = await rebuild(make_session_factory(engine, outbox=outbox, source=settings.service_name),
                               settings.kafka_bootstrap_servers, security=KafkaSecurity.from_settings(settings))
    finally:
        await engine.dispose()
    print(f"rebuilt: {result.records} records read, {result.recorded} recorded, {result.skipped} skipped")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(main())
