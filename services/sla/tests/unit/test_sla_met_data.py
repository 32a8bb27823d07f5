"""`sla.met`'s data is built without its model on the completion path (`timers.met_data`): it must be what
`SlaMet(...).model_dump(mode="json")` gives (the model `alert_payload` builds), key for key, in the same order
and with the same values, whatever is set or missing on the timer's row; and the envelope around it carries
the registry's type and version as `Envelope.wrap` would."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from backbone.envelope import Envelope
from backbone.events import SlaMet
from sla.domain.policy import parse_policy_set, resolve, snapshot
from sla.domain.timer import complete, start_timer
from sla.services.timers import _ROW, _Row, alert_payload, met_data

UTC = dt.UTC
PS = parse_policy_set({"version": "v1", "rules": [
    {"id": "wall", "clock": "calendar", "limit_minutes": 120, "warnings": {"percent": [50]},
     "escalation": [{"level": 1, "notify_role": "supervisor", "after_minutes": 0}]}]})
POLICY = snapshot(PS, resolve(PS, "m2m", "service_opening", "any", "A", "staff").rule_id)


def _row(**extra: Any) -> SimpleNamespace:
    base = {"id": "tmr_1", "ticket_id": "TK-1", "node": "n", "ticket_kind": "resource_confirmation",
            "business_type": "dedicated_line_data.opening", "role": "staff", "assignee": None,
            "customer_id": "cus_1", "customer_name": "测试港务", "customer_tier": "A", "customer_region": None,
            "account_manager_id": "am_1", "correlation_id": None}
    return SimpleNamespace(**{**base, **extra})


@given(start=st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 1, 1),
                          timezones=st.just(UTC)),
       minutes=st.floats(min_value=0, max_value=400, allow_nan=False),
       assignee=st.none() | st.text(min_size=1, max_size=10),
       region=st.none() | st.sampled_from(["r1", "华东"]),
       tier=st.sampled_from(["A", "B", "C"]))
def test_met_data_is_the_models_dump(start: dt.datetime, minutes: float, assignee: str | None, region: str | None,
                                     tier: str) -> None:
    done = complete(start_timer("TK-1", "n", POLICY, start), start + dt.timedelta(minutes=minutes))
    row = _row(assignee=assignee, customer_region=region, customer_tier=tier)
    built = met_data(row, done)
    expected = alert_payload(row, done, None, start).model_dump(mode="json")
    assert list(built.items()) == list(expected.items())
    assert json.dumps(built) == json.dumps(expected)
    assert SlaMet.model_validate(built).model_dump(mode="json") == built


def test_wrap_data_is_wrap_for_a_dumped_payload() -> None:
    done = complete(start_timer("TK-1", "n", POLICY, dt.datetime(2026, 1, 1, tzinfo=UTC)),
                    dt.datetime(2026, 1, 1, 1, tzinfo=UTC))
    row = _row(correlation_id="corr-1")
    env = Envelope.wrap_data(SlaMet, met_data(row, done), source="sla", subject="TK-1", correlation_id="corr-1")
    ref = Envelope.wrap(alert_payload(row, done, None, done.completed_at or done.started_at), source="sla",
                        subject="TK-1", correlation_id="corr-1", event_id=env.id)
    assert env.model_dump(exclude={"time"}) == ref.model_dump(exclude={"time"})
    assert (env.type, env.schema_version) == ("sla.met", 1)


def test_the_row_tuple_names_the_selected_columns_in_order() -> None:
    assert list(_Row._fields) == [c.name for c in _ROW]
