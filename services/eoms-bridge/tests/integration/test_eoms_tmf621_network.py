"""TMF621 on the EOMS bridge: network-originated tickets from "fault management", on real parts.

A bridge process on real PostgreSQL + Kafka; fault management is a token with the `integration` role.
Responses are validated with jsonschema against the TMF621 v4 `TroubleTicket` and `Error` resource models
(no official TMF621 file is in /work/shared/specs: the schema below is written from the v4 resource model,
TMF621 Trouble Ticket API REST Specification v4.0.0: member names, types, the status enumeration).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from backbone.auth import issue_token
from backbone.envelope import Envelope
from backbone.ids import new_id
from backbone.settings import DEV_JWT_SECRET
from backbone.topics import EOMS_TICKETS
from devtools.infra import free_port
from devtools.infra import test_profile as infra_profile
from devtools.suite import ServiceProcess, spec
from tests.support.hub_listener import Listener
from tests.support.kafka_tools import eventually, read_events

pytestmark = pytest.mark.asyncio(loop_scope="session")

BASE = "/tmf-api/troubleTicket/v4/troubleTicket"


def auth(subject: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(subject, list(roles), secret=DEV_JWT_SECRET)}"}


FM = auth("fm-huawei-u2000", "integration")  # fault management
FM2 = auth("fm-zte-netnumen", "integration")
SUP = auth("sup_wang", "supervisor")
AMH = auth("am_tmf621", "account_manager")

# ---------------------------------------------------------------- TMF621 v4 resource model (JSON Schema)
_REF = {"type": "object", "required": ["id", "@referredType"], "properties": {
    "id": {"type": "string"}, "href": {"type": "string"}, "name": {"type": "string"}, "role": {"type": "string"},
    "@referredType": {"type": "string"}, "@baseType": {"type": "string"}, "@schemaLocation": {"type": "string"},
    "@type": {"type": "string"}}}
_DATE = {"type": "string", "format": "date-time"}
STATUS = {"type": "string", "enum": ["acknowledged", "rejected", "pending", "held", "inProgress", "cancelled",
                                     "closed", "resolved"]}
TROUBLE_TICKET: dict[str, Any] = {
    "type": "object",
    "required": ["id", "href", "description", "severity", "ticketType", "status"],
    "properties": {
        "id": {"type": "string"}, "href": {"type": "string"}, "creationDate": _DATE, "description": {"type": "string"},
        "expectedResolutionDate": _DATE, "externalId": {"type": "string"}, "lastUpdate": _DATE,
        "name": {"type": "string"}, "priority": {"type": "string"}, "requestedResolutionDate": _DATE,
        "resolutionDate": _DATE, "severity": {"type": "string"}, "statusChangeDate": _DATE,
        "statusChangeReason": {"type": "string"}, "ticketType": {"type": "string"}, "status": STATUS,
        "attachment": {"type": "array"}, "channel": {"type": "object"},
        "note": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "author": {"type": "string"}, "date": _DATE, "text": {"type": "string"}}}},
        "relatedEntity": {"type": "array", "items": _REF},
        "relatedParty": {"type": "array", "items": _REF},
        "statusChange": {"type": "array", "items": {"type": "object", "properties": {
            "changeDate": _DATE, "changeReason": {"type": "string"}, "status": STATUS}}},
        "troubleTicketRelationship": {"type": "array"},
        "@baseType": {"type": "string"}, "@schemaLocation": {"type": "string"}, "@type": {"type": "string"},
    },
}
ERROR: dict[str, Any] = {
    "type": "object", "required": ["code", "reason"], "additionalProperties": False,
    "properties": {"code": {"type": "string"}, "reason": {"type": "string"}, "message": {"type": "string"},
                   "status": {"type": "string"}, "referenceError": {"type": "string"},
                   "@baseType": {"type": "string"}, "@schemaLocation": {"type": "string"},
                   "@type": {"type": "string"}},
}
_CHECKER = jsonschema.FormatChecker()


def ticket_of(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    jsonschema.validate(body, TROUBLE_TICKET, format_checker=_CHECKER)
    assert all(v is not None for v in body.values())  # absent members are omitted, never null
    return body


def error_of(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    jsonschema.validate(body, ERROR)
    assert body["status"] == str(status) and body["@type"] == "Error"
    return body


@pytest.fixture(scope="module")
def bridge(infra: Any) -> Iterator[str]:
    logs = infra_profile().data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**infra.env(), "ENVIRONMENT": "test", "CONSUMER_GROUP": "eoms-bridge-tmf621-it", "HUB_POLL_S": "0.05"}
    proc = ServiceProcess(spec("eoms-bridge"), env, free_port(), logs / "eoms-bridge-tmf621-it.log").start()
    try:
        yield proc.url
    finally:
        proc.stop()


def fault(external_id: str, **extra: Any) -> dict[str, Any]:
    body = {
        "externalId": external_id, "name": "LOS on NE TJ-HX-OLT-07", "ticketType": "incident",
        "description": "光路中断 loss of signal, port 1/3/5, 3 enterprise lines affected", "severity": "Critical",
        "relatedEntity": [{"id": "TJ-HX-OLT-07", "role": "affectedResource", "@referredType": "Resource"},
                          {"id": "ALM-889210", "role": "alarm", "@referredType": "Alarm"}],
        "note": [{"text": "raised by U2000 correlation rule 12"}],
        "@type": "TroubleTicket",
    }
    return {**body, **extra}


async def patch(http: httpx.AsyncClient, tid: str, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await http.patch(f"{BASE}/{tid}", json=body,
                            headers={**headers, "Content-Type": "application/merge-patch+json"})


async def hand(http: httpx.AsyncClient, tid: str) -> dict[str, str]:
    """The token of whoever works the ticket's current node: its assignee (the organisation may have
    dispatched it to the on-duty person), else someone holding the node's role."""
    cur = (await http.get(f"/api/v1/tickets/{tid}", headers=SUP)).json()
    return auth(cur["assignee"] or f"it_{cur['current_role']}", cur["current_role"])


async def events_of(infra: Any, tid: str, kind: str, n: int = 1) -> list[Envelope]:
    async def check() -> list[Envelope] | None:
        evs = await read_events(infra.kafka_bootstrap, EOMS_TICKETS, subject=tid, types={kind})
        return evs if len(evs) >= n else None

    return await eventually(check, timeout_s=20, what=f"{kind} of {tid}")  # type: ignore[no-any-return]


async def test_fault_management_opens_a_ticket_once_and_people_work_it(infra: Any, bridge: str) -> None:
    ext = new_id("alm")[:40]
    async with httpx.AsyncClient(base_url=bridge, timeout=10) as http:
        first = ticket_of(await http.post(BASE, json=fault(ext), headers=FM), 201)
        tid = first["id"]
        assert (first["status"], first["ticketType"], first["externalId"]) == ("acknowledged", "complaint_fault", ext)
        assert (first["severity"], first["priority"]) == ("critical", "critical")
        assert {e["id"] for e in first["relatedEntity"]} == {"TJ-HX-OLT-07", "ALM-889210"}
        assert {"id": "fm-huawei-u2000", "role": "reporter", "@referredType": "PartyRole"} in first["relatedParty"]
        assert first["note"][0]["text"] == "raised by U2000 correlation rule 12"
        facts = {c["name"]: c["value"] for c in first["troubleTicketCharacteristic"]}
        assert (facts["business_type"], facts["current_node"], facts["customer_tier"]) == (
            "generic.complaint", "complaint_registration", "A")  # no customer: the tier of a critical fault

        # A retrying fault manager gets the same ticket back (200), nothing new is opened.
        again = ticket_of(await http.post(BASE, json=fault(ext), headers=FM), 200)
        assert again["id"] == tid
        listed = await http.get(BASE, params={"externalId": ext}, headers=SUP)
        assert listed.status_code == 200 and [t["id"] for t in listed.json()] == [tid]
        assert listed.headers["X-Total-Count"] == "1"
        # Another reporter's alarm with the same id is another ticket; neither reporter reaches the other's.
        other = ticket_of(await http.post(BASE, json=fault(ext), headers=FM2), 201)
        assert other["id"] != tid
        error_of(await http.get(f"{BASE}/{tid}", headers=FM2), 404)
        error_of(await http.get(f"{BASE}/{tid}", headers=AMH), 404)  # not this account manager's customer

        # The same events as any ticket: the SLA's timer starts on node_entered.
        (created,) = await events_of(infra, tid, "eoms.ticket.created")
        assert (created.data["origin"], created.data["origin_id"], created.data["ticket_kind"]) == (
            "network", ext, "complaint_fault")
        assert (created.data["node"], created.data["customer_tier"]) == ("complaint_registration", "A")
        await events_of(infra, tid, "eoms.ticket.node_entered")
        history = (await http.get(f"/api/v1/tickets/{tid}", headers=SUP)).json()["history"]
        assert (history[0]["event_type"], history[0]["actor"]) == ("eoms.ticket.created", "tmf:fm-huawei-u2000")

        # Fault management works no node: taking it in hand is a person's (403, the domain says why).
        error_of(await patch(http, tid, FM, status="inProgress"), 403)
        desk = await hand(http, tid)
        t = ticket_of(await patch(http, tid, desk, status="inProgress"))
        assert t["status"] == "inProgress"
        t = ticket_of(await patch(http, tid, desk, status="pending", statusChangeReason="waiting for site access"))
        assert (t["status"], t["statusChangeReason"]) == ("pending", "waiting for site access")
        t = ticket_of(await patch(http, tid, desk, status="inProgress"))
        # The workflow resolves a complaint/fault ticket at its archive node, not at registration: 409, why.
        err = error_of(await patch(http, tid, desk, status="resolved"), 409)
        assert err["message"].startswith("status:") and "archive" in err["message"], err
        # Attributes: severity (and so priority), a note appended.
        t = ticket_of(await patch(http, tid, FM, severity="minor", note=[{"text": "alarm cleared once, flapping"}]))
        assert (t["severity"], t["priority"], t["status"]) == ("minor", "low", "inProgress")
        assert [n["text"] for n in t["note"]] == ["raised by U2000 correlation rule 12", "alarm cleared once, flapping"]
        assert t["note"][1]["author"] == "fm-huawei-u2000"

        # Walk the workflow (REST node actions) to the archive, then resolve and close over TMF621.
        walked = []

        async def step(outcome: str) -> None:
            cur = (await http.get(f"/api/v1/tickets/{tid}", headers=SUP)).json()
            walked.append(cur["current_node"])
            headers = await hand(http, tid)
            if cur["assignee"] is None or cur["state"] == "acknowledged":
                r = await http.post(f"/api/v1/tickets/{tid}/actions/accept", headers=headers, json={})
                assert r.status_code == 200, r.text
            r = await http.post(f"/api/v1/tickets/{tid}/actions/complete", headers=headers, json={"outcome": outcome})
            assert r.status_code == 200, r.text

        for outcome in ("registered", "fault", "located", "repaired", "passed", "satisfied"):
            await step(outcome)
        assert walked == ["complaint_registration", "complaint_triage", "fault_location", "fault_repair",
                          "recovery_test", "customer_revisit"]  # triage: a network ticket is a fault
        t = ticket_of(await patch(http, tid, await hand(http, tid), status="resolved"))
        assert t["status"] == "resolved" and "resolutionDate" in t
        t = ticket_of(await patch(http, tid, FM, status="closed"))
        assert [c["status"] for c in t["statusChange"]] == [
            "acknowledged", "inProgress", "pending", "inProgress", "resolved", "closed"]
        error_of(await patch(http, tid, FM, status="inProgress"), 409)  # a closed ticket stays closed

    (changed,) = await events_of(infra, tid, "eoms.ticket.attributes_changed")
    assert (changed.data["changed"], changed.data["severity"], changed.data["note"], changed.data["actor"]) == (
        ["severity", "note"], "minor", "alarm cleared once, flapping", "tmf:fm-huawei-u2000")
    (resolved,) = await events_of(infra, tid, "eoms.ticket.resolved")
    assert resolved.data["resolution"] == "resolved" and resolved.data["origin"] == "network"
    await events_of(infra, tid, "eoms.ticket.closed")


async def test_fault_management_holds_and_cancels_its_ticket(infra: Any, bridge: str) -> None:
    async with httpx.AsyncClient(base_url=bridge, timeout=10) as http:
        body = fault(new_id("alm")[:40], severity="major",
                     relatedEntity=[{"id": "dedicated_line_data", "@referredType": "ProductOffering"}],
                     relatedParty=[{"id": "cus_tmf621_unknown", "name": "天津某集团", "role": "customer",
                                    "@referredType": "Organization"}])
        t = ticket_of(await http.post(BASE, json=body, headers=FM), 201)
        tid = t["id"]
        facts = {c["name"]: c["value"] for c in t["troubleTicketCharacteristic"]}
        assert facts["business_type"] == "dedicated_line_data.complaint"  # the related product's workflow
        assert facts["customer_tier"] == "A"  # a customer the bridge does not know: the tier of the severity
        assert {"id": "cus_tmf621_unknown", "name": "天津某集团", "role": "customer",
                "@referredType": "Organization"} in t["relatedParty"]
        assert t["priority"] == "high"
        t = ticket_of(await patch(http, tid, FM, status="held", statusChangeReason="maintenance window"))
        assert t["status"] == "held"
        t = ticket_of(await patch(http, tid, FM, status="cancelled", statusChangeReason="alarm cleared"))
        assert (t["status"], t["statusChangeReason"]) == ("cancelled", "alarm cleared")
    (closed,) = await events_of(infra, tid, "eoms.ticket.closed")
    assert (closed.data["final_state"], closed.data["reason"]) == ("cancelled", "alarm cleared")


async def test_malformed_bodies_and_statuses_are_tmf_errors_naming_the_field(infra: Any, bridge: str) -> None:
    async with httpx.AsyncClient(base_url=bridge, timeout=10) as http:
        no_severity = {k: v for k, v in fault("ALM-bad-1").items() if k != "severity"}
        assert "severity" in error_of(await http.post(BASE, json=no_severity, headers=FM), 400)["message"]
        err = error_of(await http.post(BASE, json=fault("ALM-bad-2", severity="apocalyptic"), headers=FM), 400)
        assert err["message"].startswith("severity:"), err
        err = error_of(await http.post(BASE, json=fault("ALM-bad-3", ticketType="billing"), headers=FM), 400)
        assert err["message"].startswith("ticketType:"), err
        bad_product = fault("ALM-bad-4", relatedEntity=[{"id": "5g_slice", "@referredType": "ProductOffering"}])
        err = error_of(await http.post(BASE, json=bad_product, headers=FM), 400)
        assert err["message"].startswith("relatedEntity.0.id:"), err
        err = error_of(await http.post(BASE, json=fault("ALM-bad-5", relatedEntity=[{"id": "x"}]), headers=FM), 400)
        assert "@referredType" in err["message"], err
        err = error_of(await http.post(BASE, json=fault("ALM-bad-6", colour="red"), headers=FM), 400)
        assert "colour" in err["message"], err
        error_of(await http.post(BASE, json=fault("ALM-bad-7"), headers=AMH), 403)  # not a reporter

        t = ticket_of(await http.post(BASE, json=fault(new_id("alm")[:40]), headers=FM), 201)
        err = error_of(await patch(http, t["id"], FM, status="done"), 400)
        assert "status" in err["message"], err
        err = error_of(await patch(http, t["id"], FM, ticketType="fault"), 400)  # not patchable
        assert "ticketType" in err["message"], err
        desk = await hand(http, t["id"])
        err = error_of(await patch(http, t["id"], desk, status="rejected"), 400)  # a rejection needs its reason
        assert err["message"].startswith("statusChangeReason:"), err
        t = ticket_of(await patch(http, t["id"], desk, status="rejected", statusChangeReason="duplicate of ALM-1"))
        assert t["status"] == "rejected"
        error_of(await patch(http, "tkt_nope", FM, status="cancelled"), 404)
        listed = await http.get(BASE, params={"status": "nonsense"}, headers=SUP)
        assert error_of(listed, 400)["message"].startswith("status:")


async def test_a_subscriber_sees_fault_management_s_ticket_signed_and_in_order(infra: Any, bridge: str) -> None:
    """As an integrator would: a listener on the bridge's hub (network tickets only), a fault opened by fault
    management, its severity changed, held, cancelled: the events arrive signed, created first, in order."""
    listener = await Listener().start()
    try:
        async with httpx.AsyncClient(base_url=bridge, timeout=20) as http:
            admin = auth("oss_admin", "admin")
            r = await http.post("/tmf-api/troubleTicket/v4/hub", headers=admin,
                                json={"callback": listener.url, "query": "troubleTicket.origin=network"})
            assert r.status_code == 201, r.text
            listener.secret = r.json()["secret"]
            tid = ticket_of(await http.post(BASE, json=fault(new_id("alm")[:40]), headers=FM), 201)["id"]
            ticket_of(await patch(http, tid, FM, severity="minor", note=[{"text": "flapping"}]))
            ticket_of(await patch(http, tid, FM, status="held", statusChangeReason="maintenance window"))
            ticket_of(await patch(http, tid, FM, status="cancelled", statusChangeReason="alarm cleared"))

            def mine(lst: Listener) -> list[Any]:
                return [c for c in lst.accepted() if c.json["event"]["troubleTicket"]["id"] == tid]

            def statuses(lst: Listener) -> list[str]:
                return [c.json["event"]["troubleTicket"]["status"] for c in mine(lst)
                        if c.json["eventType"] == "troubleTicketStatusChangeEvent"]

            await listener.wait_for(lambda lst: statuses(lst)[-1:] == ["cancelled"], within_s=90)
            calls = mine(listener)
            assert all(c.signature_ok for c in calls)
            assert calls[0].json["eventType"] == "troubleTicketCreateEvent"
            assert calls[0].json["event"]["troubleTicket"]["relatedEntity"][0] == {
                "id": calls[0].json["event"]["troubleTicket"]["relatedEntity"][0]["id"], "role": "network",
                "@referredType": "Alarm"}
            assert statuses(listener) == ["held", "cancelled"]
            (severity,) = [c.json["event"]["troubleTicket"] for c in calls
                           if c.json["eventType"] == "troubleTicketAttributeValueChangeEvent"
                           and "severity" in c.json["event"]["troubleTicket"]]
            assert (severity["severity"], severity["priority"], severity["note"][0]["text"]) == ("minor", "low",
                                                                                                  "flapping")
            severity_at = next(i for i, c in enumerate(calls) if "severity" in c.json["event"]["troubleTicket"])
            held_at = next(i for i, c in enumerate(calls) if c.json["eventType"] == "troubleTicketStatusChangeEvent")
            assert 0 < severity_at < held_at  # per ticket, in the order the PATCHes happened
    finally:
        await listener.stop()
