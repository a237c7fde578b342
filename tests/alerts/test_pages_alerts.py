"""The pages: alarms with filters and the lifecycle buttons, the bell on every page, rules (admins edit),
work orders from an alarm, the caller's notifications and preferences, webhooks, drift."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from alerts.models import Alarm, AlertRule, Notification, WorkOrder
from alerts.services.alarms import Finding, alarm_acknowledge, alarm_raise, alarm_resolve
from alerts.services.notifications import alarm_notify

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alarm(motor, make_rule):
    rule = make_rule(AlertRule.Kind.HEALTH_STATE, state_at_least=2)
    return alarm_raise(rule=rule, machine=motor, finding=Finding("Health state Warning", "warning", "Seen."))[
        0
    ]


def test_every_page_shows_the_bell_with_the_unread_count(users, alarm):
    alarm_notify(alarm, "raised")
    page = client_for(users["viewer"]).get("/alerts/rules/")
    html = page.content.decode()
    assert 'data-testid="bell"' in html and "alerts/alerts.js" in html
    assert 'data-testid="bell-count" data-bell-count>1</span>' in html
    panel = client_for(users["viewer"]).get("/alerts/notifications/bell/").content.decode()
    assert "Warning: Health state Warning" in panel and "bell-acknowledge" not in panel  # viewers do not act
    assert (
        'data-testid="bell-acknowledge"'
        in client_for(users["operator"]).get("/alerts/notifications/bell/").content.decode()
    )


def bell_count(client) -> str:
    html = client.get("/alerts/rules/").content.decode()
    return re.search(r'data-testid="bell-count" data-bell-count(?: hidden)?>(\d*)<', html).group(1)


def test_the_bell_count_is_cached_until_a_notification_changes(users, alarm):
    viewer = client_for(users["viewer"])
    assert bell_count(viewer) == "0"
    alarm_notify(alarm, "raised")  # stored in bulk: no signal
    assert bell_count(viewer) == "1"
    with CaptureQueriesContext(connection) as captured:
        assert bell_count(viewer) == "1"
    assert not [q for q in captured if "alerts_notification" in q["sql"]]

    alarm_notify(alarm, "escalated")
    assert bell_count(viewer) == "2"
    first = Notification.objects.filter(user=users["viewer"]).first()
    viewer.post(f"/alerts/notifications/{first.pk}/read/")
    assert bell_count(viewer) == "1"
    viewer.post("/alerts/notifications/read-all/")
    assert bell_count(viewer) == "0"
    alarm_notify(alarm, "raised")
    Notification.objects.filter(user=users["viewer"]).delete()
    assert bell_count(viewer) == "0"


def test_the_alarm_list_filters_and_operators_act_from_it(users, alarm):
    viewer_page = client_for(users["viewer"]).get("/alerts/alarms/")
    assert viewer_page.status_code == 200 and "Health state Warning" in viewer_page.content.decode()
    assert f"/alerts/alarms/{alarm.pk}/acknowledge/" not in viewer_page.content.decode()
    assert (
        "Health state Warning"
        not in client_for(users["viewer"]).get("/alerts/alarms/?show=resolved").content.decode()
    )
    operator = client_for(users["operator"])
    assert f"/alerts/alarms/{alarm.pk}/acknowledge/" in operator.get("/alerts/alarms/").content.decode()
    answer = operator.post(
        f"/alerts/alarms/{alarm.pk}/acknowledge/", {"comment": "On it", "next": "/alerts/alarms/"}
    )
    assert answer.status_code == 302 and answer["Location"] == "/alerts/alarms/"
    alarm.refresh_from_db()
    assert (alarm.status, alarm.acknowledged_by, alarm.acknowledge_comment) == (
        "acknowledged",
        users["operator"],
        "On it",
    )
    # From the bell (htmx): the new state comes back as a fragment.
    resolved = operator.post(f"/alerts/alarms/{alarm.pk}/resolve/", headers={"HX-Request": "true"})
    assert resolved.status_code == 200 and 'data-alarm-status="resolved"' in resolved.content.decode()
    again = operator.post(f"/alerts/alarms/{alarm.pk}/resolve/", headers={"HX-Request": "true"})
    assert again.status_code == 409
    assert client_for(users["viewer"]).post(f"/alerts/alarms/{alarm.pk}/resolve/").status_code == 403


def test_alarm_listings_read_what_they_show_in_one_query(users, make_machine, make_rule):
    """The page and the API list read the machine id, rule name and users' names with the alarms: no lazy
    load per row, and no other column of the related rows (a user's password hash least of all)."""
    rule = make_rule(AlertRule.Kind.HEALTH_STATE, state_at_least=2)
    for n in range(3):
        machine = make_machine(f"motor_listed_{n}")
        alarm, _ = alarm_raise(rule=rule, machine=machine, finding=Finding(f"Hot {n}", "warning", "Seen."))
        if n == 1:
            alarm_acknowledge(alarm=alarm, user=users["operator"])
        if n == 2:
            alarm_resolve(alarm=alarm, user=users["admin"])
    client = client_for(users["operator"])
    api = APIClient()
    api.force_authenticate(users["operator"])

    with CaptureQueriesContext(connection) as page_queries:
        page = client.get("/alerts/alarms/?show=all").content.decode()
    with CaptureQueriesContext(connection) as api_queries:
        listed = api.get("/api/v1/alarms/").json()["results"]

    assert all(f"motor_listed_{n}" in page for n in range(3)) and "by operator" in page and "by admin" in page
    assert {(a["machine"], a["rule"]["name"], a["acknowledged_by"], a["resolved_by"]) for a in listed} == {
        ("motor_listed_0", rule.name, None, None),
        ("motor_listed_1", rule.name, "operator", None),
        ("motor_listed_2", rule.name, None, "admin"),
    }
    for captured in (page_queries, api_queries):
        alarm_reads = [q["sql"] for q in captured if 'FROM "alerts_alarm"' in q["sql"]]
        assert len([sql for sql in alarm_reads if "COUNT(" not in sql]) == 1
        assert not [q for q in captured if q["sql"].startswith('SELECT "machines_')]
        # At most the request's own user (a page loads it from its session); never one per listed alarm.
        assert len([q for q in captured if q["sql"].startswith('SELECT "auth_user"')]) <= 1
        assert not [sql for sql in alarm_reads if "password" in sql]


def test_the_alarm_page_shows_its_history_and_makes_a_work_order(users, alarm):
    page = client_for(users["viewer"]).get(f"/alerts/alarms/{alarm.pk}/").content.decode()
    assert 'data-testid="alarm-history"' in page and "Raised" in page and "work-order-from-alarm" not in page
    created = client_for(users["operator"]).post("/alerts/work-orders/new/", {"alarm": alarm.pk})
    order = WorkOrder.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/alerts/work-orders/{order.pk}/"
    detail = client_for(users["operator"]).get(created["Location"]).content.decode()
    assert "Inspect: Health state Warning" in detail and "work-order-close" in detail
    closed = client_for(users["operator"]).post(
        f"/alerts/work-orders/{order.pk}/status/",
        {"action": "close", "outcome": "completed", "reset_baseline": "on"},
    )
    order.refresh_from_db()
    assert closed.status_code == 302 and (order.status, order.baseline_reset) == ("done", True)


def test_work_orders_by_hand_name_their_mistakes(users, motor):
    operator = client_for(users["operator"])
    assert operator.get(f"/alerts/work-orders/new/?machine={motor.machine_id}").status_code == 200
    missing = operator.post(
        "/alerts/work-orders/new/", {"machine": motor.machine_id, "task": "", "priority": "warning"}
    )
    assert missing.status_code == 400 and not WorkOrder.objects.exists()
    made = operator.post(
        "/alerts/work-orders/new/",
        {
            "machine": motor.machine_id,
            "task": "Grease",
            "priority": "info",
            "recommended_actions": "One\n\nTwo",
        },
    )
    assert made.status_code == 302 and WorkOrder.objects.get().recommended_actions == ["One", "Two"]
    assert "Grease" in client_for(users["viewer"]).get("/alerts/work-orders/").content.decode()


def test_admins_edit_rules_and_everyone_reads_them(users, motor):
    assert "rule-new" not in client_for(users["operator"]).get("/alerts/rules/").content.decode()
    admin = client_for(users["admin"])
    bad = admin.post(
        "/alerts/rules/new/", {"name": "RUL", "kind": "rul_below", "severity": "critical", "enabled": "on"}
    )
    assert bad.status_code == 400 and "rul_fraction of the category" in bad.content.decode()
    good = admin.post(
        "/alerts/rules/new/",
        {
            "name": "Motors RUL",
            "kind": "rul_below",
            "category": motor.category.pk,
            "rul_hours": "150",
            "severity": "critical",
            "enabled": "on",
        },
    )
    rule = AlertRule.objects.get(name="Motors RUL")
    assert good.status_code == 302 and (rule.rul_hours, rule.category, rule.scope) == (
        150,
        motor.category,
        "category",
    )
    assert "Motors RUL" in client_for(users["viewer"]).get("/alerts/rules/").content.decode()
    assert (
        admin.post(f"/alerts/rules/{rule.pk}/delete/").status_code == 302
        and not AlertRule.objects.filter(pk=rule.pk).exists()
    )


def test_notifications_and_preferences_are_ones_own(users, alarm):
    notified = {n.user.username: n for n in alarm_notify(alarm, "raised")}
    viewer = client_for(users["viewer"])
    assert viewer.post(f"/alerts/notifications/{notified['operator'].pk}/read/").status_code == 404
    assert viewer.post(f"/alerts/notifications/{notified['viewer'].pk}/read/").status_code == 302
    assert Notification.objects.filter(read_at__isnull=True).count() == 2
    saved = viewer.post("/alerts/preferences/", {"browser_severities": ["critical"], "email_severities": []})
    assert saved.status_code == 302
    preference = users["viewer"].alert_preference
    assert (
        preference.browser_severities == ["critical"]
        and preference.email_severities == []
        and not preference.job_updates
    )
    assert viewer.post("/alerts/preferences/test/").status_code == 302
    assert Notification.objects.filter(user=users["viewer"], kind="test").exists()
    page = viewer.get("/alerts/notifications/").content.decode()
    assert "Test notification" in page and "Health state Warning" in page


def test_webhooks_pages_are_for_admins(users):
    assert client_for(users["operator"]).get("/alerts/webhooks/").status_code == 403
    admin = client_for(users["admin"])
    created = admin.post(
        "/alerts/webhooks/",
        {"name": "chat", "url": "https://chat.example.com/h", "severities": ["critical"], "enabled": "on"},
    )
    assert created.status_code == 302
    detail = admin.get(created["Location"]).content.decode()
    assert 'data-testid="webhook-secret"' in detail and "Nothing sent yet" in detail
    admin.post(created["Location"], {"action": "ping"})
    assert "ping" in admin.get(created["Location"]).content.decode()


def test_drift_pages_render_without_reports(users, motor):
    viewer = client_for(users["viewer"])
    assert "No drift report yet" in viewer.get("/alerts/drift/").content.decode()
    assert "No drift report yet" in viewer.get(f"/alerts/drift/{motor.machine_id}/").content.decode()
    checked = client_for(users["operator"]).post(f"/alerts/drift/{motor.machine_id}/check/")
    assert checked.status_code == 302 and Alarm.objects.count() == 0
