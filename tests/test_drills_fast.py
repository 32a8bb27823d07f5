"""The fast fault drills of `make drill` (devtools/drill.py) inside `make test`: the ones that stop no
server, on the test infrastructure, each a few seconds of load counted at its edges. The PostgreSQL
outages (stopped 20 s, killed -9) run only in `make drill`, on the drill profile's own servers."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from devtools.drill import FAST_DRILLS

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.mark.parametrize("name", sorted(FAST_DRILLS))
async def test_fast_drill(infra: Any, name: str) -> None:
    result = await FAST_DRILLS[name]((infra.database_url, infra.kafka_bootstrap), quick=True)
    assert result.ok, asdict(result)
    assert result.acknowledged > 0 and result.lost == 0 and result.duplicated_effects == 0 and result.reordered == 0
