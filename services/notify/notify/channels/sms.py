"""SMS over the process's SMPP sessions (SMPP_BINDS binds, each windowed): a delivery row's text, part by part.

Each message goes to the bound session with the fewest submits outstanding; its parts go one after the
other on it (many messages are in flight at once: the dispatch workers send their batches concurrently).

Each part's SMSC message id is committed as soon as the SMSC acknowledges it (`sms_parts`), so a
resend after a crash never submits an acknowledged part again, and the concatenation reference
derives from the delivery id, so the handset still reassembles the parts of a resend. The last
part's id is recorded with the `sent` commit (`Sent.last_part`).

The reference has 8 bits, and a handset joins parts by sender, phone and reference: two multi-part
messages to one phone whose references collide (1 in 256) and whose parts interleave would reach it
as two garbled texts. So a process sends one multi-part message per phone at a time (`_alone_to`):
their parts never interleave, whatever their references (docs/reliability.md: across notify replicas
the 1-in-256 window remains).
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.masking import mask_phone
from notify.channels.base import ChannelName, PermanentSendError, Row, Sent
from notify.domain.sms import segment
from notify.models import sms_parts
from notify.smpp.client import SmppClient, SmppSubmitError

_PARTS_OF = select(sms_parts.c.part_no, sms_parts.c.message_id).where(
    sms_parts.c.delivery_id == bindparam("delivery_id")
)
_INSERT_PART = insert(sms_parts)


def sms_ref(delivery_id: str) -> int:
    """The concatenation reference of a delivery: the same on a resend, so parts still match."""
    return zlib.crc32(delivery_id.encode()) & 0xFF


class SmsChannel:
    name: ChannelName = "sms"
    permanent_errors: tuple[type[Exception], ...] = (PermanentSendError, SmppSubmitError)
    # no bound session within the timeout (SmppUnavailable is a TimeoutError), the connection lost
    unreachable_errors: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)

    def __init__(self, clients: SmppClient | Sequence[SmppClient] | None, engine: AsyncEngine) -> None:
        # None / empty: no SMPP_URL configured, every SMS fails for good
        self.clients = (clients,) if isinstance(clients, SmppClient) else tuple(clients or ())
        self.engine = engine
        self._phones: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # phone → its lock, the senders using it

    @contextlib.asynccontextmanager
    async def _alone_to(self, phone: str) -> AsyncIterator[None]:
        """One multi-part message in flight to `phone` from this process (the module docstring)."""
        lock, users = self._phones.setdefault(phone, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._phones[phone]

    def session(self) -> SmppClient:
        """The bound session with the fewest submits outstanding (any session while none is bound: it waits)."""
        bound = [c for c in self.clients if c.bound] or list(self.clients)
        return min(bound, key=lambda c: c.outstanding)

    async def send(self, row: Row) -> Sent:
        if not self.clients:
            raise PermanentSendError("no SMPP_URL configured")
        client = self.session()
        message = segment(row["body"], ref=sms_ref(row["id"]))
        done: dict[int, str] = {}
        # Parts exist only if an earlier try submitted some: the row was claimed from `retrying` (a failed
        # try, counted or not, a recovered or an uncertain one), never from `queued`. A row without
        # `claimed_from` (not from a claim) is looked up.
        if row.get("claimed_from", "retrying") != "queued":
            async with self.engine.connect() as conn:
                done = {r.part_no: r.message_id for r in await conn.execute(_PARTS_OF, {"delivery_id": row["id"]})}
        total = len(message.parts)
        ids: list[str] = []
        async with self._alone_to(row["address"]) if total > 1 else contextlib.nullcontext():
            for no, part in enumerate(message.parts, start=1):
                if no in done:
                    ids.append(done[no])  # acknowledged before a crash: never submitted twice
                    continue
                (message_id,) = await client.submit(row["address"], [part])
                ids.append(message_id)
                if no < total:
                    async with self.engine.begin() as conn:
                        await conn.execute(_INSERT_PART,
                                           {"delivery_id": row["id"], "part_no": no, "message_id": message_id})
        return Sent(
            ",".join(ids),
            summary=f"to {mask_phone(row['address'])} ({total} part(s))",
            last_part=(total, ids[-1]) if total not in done else None,
        )
