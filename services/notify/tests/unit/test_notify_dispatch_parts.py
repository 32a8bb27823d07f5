"""Dispatch parts without I/O: the idle workers' wake-up call, the lease's in-flight count, directory errors."""

from __future__ import annotations

import asyncio

import pytest

from backbone.errors import ErrorKind
from backbone.workers import Worker
from notify.dispatch.lease import Lease
from notify.dispatch.wakeup import Wakeup
from notify.services.directory import InvalidDirectory, validate_directory


class Idle(Worker):
    async def step(self) -> float:
        return 3600.0


async def test_a_wake_releases_idle_workers_of_its_channel_only() -> None:
    wakeup = Wakeup(("email", "sms"))
    email = [Idle(f"email-{i}") for i in range(3)]
    sms = Idle("sms-0")
    for w in email:
        wakeup.idle("email", w)
    wakeup.idle("sms", sms)
    wakeup.wake("email", count=1)
    assert wakeup.generation == {"email": 1, "sms": 0}
    woken = [w for w in email if w._wake.is_set()]
    assert woken == [email[0]] and not sms._wake.is_set()
    wakeup.busy("email", email[1])
    wakeup.wake()  # every channel, every idle worker
    assert email[2]._wake.is_set() and sms._wake.is_set() and not email[1]._wake.is_set()
    assert wakeup.generation == {"email": 2, "sms": 1}


async def test_the_lease_waits_for_sends_in_flight_before_letting_go() -> None:
    lease = Lease()
    released = asyncio.Event()

    async def send() -> None:
        async with lease.sending():
            await released.wait()

    task = asyncio.create_task(send())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(lease.drained(30))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    released.set()
    await asyncio.wait_for(waiting, 5)
    await task


def test_an_invalid_directory_names_each_wrong_field() -> None:
    with pytest.raises(InvalidDirectory) as caught:
        validate_directory({"people": [{"id": "p1"}], "account_managers": {"c": "nobody"}})
    error = caught.value
    assert error.kind is ErrorKind.INVALID and error.title == "Invalid directory"
    assert error.errors and all({"field", "message"} <= set(e) for e in error.errors)
