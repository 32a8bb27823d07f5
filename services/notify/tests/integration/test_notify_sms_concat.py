"""Two long SMS to one phone whose 8-bit concatenation references collide, sent at once by one notify
process (the SMS channel on a real SMPP session to the SMSC simulator, parts recorded on PostgreSQL):
the SMSC, joining parts by sender, phone and reference as a handset does, gets both texts whole.

Found by the stack drills (docs/reliability.md): with the references equal and the parts interleaved
(A1, B1, A2, B2 …) the simulator, like a handset, joined parts of both messages."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from backbone.db import make_engine
from devtools.smsc import SmscSimulator
from notify.channels.sms import SmsChannel, sms_ref
from notify.smpp.client import SmppClient

pytestmark = [pytest.mark.timeout(60)]

PHONE = "13900005678"


def _colliding_ids() -> tuple[str, str]:
    seen: dict[int, str] = {}
    while True:
        did = f"dlv_concat_{uuid.uuid4().hex[:12]}"
        ref = sms_ref(did)
        if ref in seen:
            return seen[ref], did
        seen[ref] = did


async def test_two_long_sms_to_one_phone_with_one_reference_both_arrive_whole(infra: Any) -> None:
    first, second = _colliding_ids()
    assert sms_ref(first) == sms_ref(second)
    texts = {first: "A" * 150 + " first message, three parts " + "a" * 200,
             second: "B" * 150 + " second message, three parts " + "b" * 200}
    sim = SmscSimulator("127.0.0.1", 0, {"notify": "secret"})
    await sim.start()
    engine = make_engine(infra.database_url, pool_size=4, schema="notify")
    try:
        async with SmppClient(f"smpp://notify:secret@127.0.0.1:{sim.port}", window=16) as client:
            channel = SmsChannel(client, engine)
            sent = await asyncio.gather(*(channel.send({"id": did, "address": PHONE, "body": body, "attempts": 1})
                                          for did, body in texts.items()))
        assert all(s.provider_id.count(",") == 2 for s in sent)  # three parts each
        await sim.wait_for(lambda: len(sim.parts) == 6)
        assert sorted(m.text for m in sim.messages if m.destination == PHONE) == sorted(texts.values())
        assert not channel._phones  # nothing left behind per phone
    finally:
        await engine.dispose()
        await sim.stop()
