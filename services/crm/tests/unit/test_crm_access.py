"""The CRM's access policy (crm.access) for the seed's roles: what each role may do and how far it reaches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backbone.auth import Principal
from backbone.errors import Forbidden
from backbone.problems import Problem
from crm import access
from crm.models import customers


def who(*roles: str, subject: str = "u1") -> Principal:
    return Principal(subject=subject, roles=frozenset(roles))


def assert_403(check: Callable[[Principal], Any], principal: Principal) -> None:
    with pytest.raises(Problem) as refused:
        check(principal)
    assert refused.value.status == 403, check


def test_the_complaint_desk_reads_every_customer_and_registers_complaints_for_any() -> None:
    desk = who("complaint_desk")
    assert access.customer_reader(desk).owner is None
    assert access.complaint_reader(desk).owner is None
    scope = access.complaint_registrar(desk)
    assert (scope.owner, scope.admin, scope.actor) == (None, False, "u1")
    assert scope.covers("any_manager")
    access.catalogue_reader(desk)
    assert not access.sees_full_contacts(desk, "u1")  # key persons masked, as for a supervisor
    for refused in (access.work_reader, access.writer, access.tiering_reader):  # no orders, changes, steps
        assert_403(refused, desk)


def test_a_department_head_reads_like_a_supervisor_and_changes_nothing() -> None:
    head = who("department_head")
    for read in (access.customer_reader, access.work_reader, access.complaint_reader):
        assert read(head).owner is None
    access.catalogue_reader(head)
    access.tiering_reader(head)
    assert not access.sees_full_contacts(head, "u1")
    for refused in (access.writer, access.complaint_registrar, access.tiering_admin):
        assert_403(refused, head)


def test_an_account_manager_registers_complaints_for_own_customers_only() -> None:
    scope = access.complaint_registrar(who("account_manager", subject="am1"))
    assert scope.owner == "am1" and scope.covers("am1") and not scope.covers("am2")
    assert access.complaint_reader(who("account_manager", subject="am1")).owner == "am1"


def test_network_staff_is_unchanged_and_reads_no_customer() -> None:
    ns = who("network_staff")
    assert access.work_reader(ns).owner is None and access.complaint_reader(ns).owner is None
    for refused in (access.customer_reader, access.complaint_registrar, access.writer):
        assert_403(refused, ns)


def test_an_agent_reaches_only_the_customers_assigned_to_them() -> None:
    agent = who("agent", subject="ag1")
    for read in (access.agent_customer_reader, access.agent_work_reader, access.order_placer):
        scope = read(agent)
        assert (scope.agent, scope.owner, scope.admin) == ("ag1", None, False)
        assert scope.covers("any_manager", "ag1")
        assert not scope.covers("any_manager", "ag2") and not scope.covers("any_manager", None)
    access.catalogue_reader(agent)
    for refused in (access.customer_reader, access.work_reader, access.complaint_reader, access.writer,
                    access.complaint_registrar, access.tiering_reader):
        assert_403(refused, agent)
    # the agent channel only: forced when not given, 403 naming the field for another
    scope = access.order_placer(agent)
    assert access.order_channel(scope, None) == access.order_channel(scope, "agent") == "agent"
    with pytest.raises(Forbidden) as wrong:
        access.order_channel(scope, "account_manager")
    assert wrong.value.errors == [{"field": "channel", "message": "must be agent"}]
    # a list shows an agent nothing without a customer column to filter on
    assert str(access.owner_filter(scope, customers.c.account_manager_id)) == "false"
    assert "agent_id" in str(access.owner_filter(scope, customers.c.account_manager_id, customers.c.id))


def test_an_account_manager_who_is_also_an_agent_keeps_the_managers_scope() -> None:
    both = who("account_manager", "agent", subject="am1")
    scope = access.order_placer(both)
    assert (scope.owner, scope.agent) == ("am1", None)
    assert access.order_channel(scope, None) == "account_manager"
    assert access.order_channel(scope, "agent") == "agent"
    assert access.agent_customer_reader(both).owner == "am1"


@pytest.mark.parametrize("role", ["dispatcher", "partner_si", "field_engineer", "integration"])
def test_roles_without_a_crm_part_reach_nothing(role: str) -> None:
    p = who(role)
    for check in (access.customer_reader, access.work_reader, access.complaint_reader, access.complaint_registrar,
                  access.writer, access.catalogue_reader, access.tiering_reader, access.agent_customer_reader,
                  access.agent_work_reader, access.order_placer):
        assert_403(check, p)
