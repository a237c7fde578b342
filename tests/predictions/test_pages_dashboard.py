"""The fleet dashboard: overview counts with the change since the last snapshot, the card grid with search,
filters, sort and pages, and the partials the live page re-fetches."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from machines.models import Machine
from machines.services import fleet_load
from predictions.models import FleetSnapshot, MachineHealth


@pytest.fixture
def fleet(db):
    fleet_load()
    now = timezone.now()
    states = {"cnc_haas_vf2_001": 3, "pump_ksb_etanorm_001": 2, "motor_abb_m3bp_002": 1}
    for machine in Machine.objects.all():
        MachineHealth.objects.create(
            machine=machine,
            state=states.get(machine.machine_id, 0) if not machine.machine_id.startswith("robot") else None,
            confidence=0.9,
            rul=100.0 if machine.machine_id in states else 700.0,
            rul_lower=80.0,
            rul_upper=120.0,
            rul_unit="hours",
            key_sensors=[["vibration_mm_s", 4.2, "mm/s"]],
            last_reading_at=now,
        )
    FleetSnapshot.objects.create(counts={"0": 28, "1": 1, "2": 1, "3": 0, "unknown": 2})
    return Machine.objects.all()


def cards(html: str) -> list[str]:
    return re.findall(r'data-machine-card="([a-z0-9_]+)"', html)


def test_the_dashboard_shows_counts_changes_and_the_first_page(client, viewer, fleet):
    client.force_login(viewer)
    html = client.get("/").content.decode()
    assert 'data-testid="dashboard"' in html and "data-fleet-live" in html
    assert re.search(r'data-testid="overview-3" data-count="1"', html)
    assert re.search(r'data-testid="overview-0" data-count="27"', html)
    assert re.search(r'data-testid="change-3">▲ 1<', html) and re.search(r'data-testid="change-0">▼ 1<', html)
    shown = cards(html)
    assert len(shown) == 24 and shown[:3] == [
        "cnc_haas_vf2_001",
        "pump_ksb_etanorm_001",
        "motor_abb_m3bp_002",
    ]
    assert 'class="card machine-card state-3"' in html


def test_filters_search_sort_and_pages(client, viewer, fleet):
    client.force_login(viewer)
    assert cards(client.get("/?state=3").content.decode()) == ["cnc_haas_vf2_001"]
    assert sorted(cards(client.get("/?state=unknown").content.decode())) == [
        "robot_fanuc_m20ia_001",
        "robot_kuka_kr10_002",
    ]
    assert len(cards(client.get("/?search=PUMP").content.decode())) == 3
    assert set(cards(client.get("/?category=fan").content.decode())) == {
        "fan_ebm_papst_a3g_001",
        "fan_ziehl_abegg_fe2_002",
    }
    by_name = cards(client.get("/?sort=name").content.decode())
    assert by_name == sorted(by_name)
    second = client.get("/?sort=name&page=2").content.decode()
    assert len(cards(second)) == 8 and "Page 2 of 2" in second


def test_htmx_gets_the_grid_and_single_cards(client, viewer, fleet):
    client.force_login(viewer)
    partial = client.get("/?state=2", headers={"HX-Request": "true", "HX-Target": "fleet"}).content.decode()
    assert "<html" not in partial and cards(partial) == ["pump_ksb_etanorm_001"]
    card = client.get("/fleet/cards/cnc_haas_vf2_001/").content.decode()
    assert cards(card) == ["cnc_haas_vf2_001"] and "Critical" in card and "4.20" in card
    overview = client.get("/fleet/overview/?state=3").content.decode()
    assert 'id="fleet-overview"' in overview and "overview-card state-3 selected" in overview
    assert client.get("/fleet/cards/ghost_001/").status_code == 404


def test_an_empty_fleet_still_renders(client, viewer):
    client.force_login(viewer)
    html = client.get("/").content.decode()
    assert 'data-testid="dashboard"' in html and "No machine matches" in html and "no snapshot yet" in html


def test_filters_the_api_refuses_fall_back_to_their_defaults_on_the_page(client, viewer, fleet, api):
    """One validator for the page and GET /api/v1/fleet/: the API answers 400 naming the field."""
    client.force_login(viewer)
    page = client.get("/", {"sort": "loudest", "state": "9", "category": "fan"})
    assert page.status_code == 200 and len(cards(page.content.decode())) == 2
    api.as_user(viewer)
    assert api.get("/api/v1/fleet/", {"category": "fan"}).json()["count"] == 2
    for query, field in (({"sort": "loudest"}, "sort"), ({"category": "fa\x00n"}, "category")):
        refused = api.get("/api/v1/fleet/", query)
        assert refused.status_code == 400 and field in refused.json()["errors"], refused.json()
    assert client.get("/", {"search": "pu\x00mp"}).status_code == 200


def test_a_card_follows_its_health_row_and_unchanged_cards_come_from_the_cache(
    client, viewer, fleet, monkeypatch
):
    from predictions import selectors

    client.force_login(viewer)
    assert len(cards(client.get("/?sort=name").content.decode())) == 24
    health = MachineHealth.objects.get(machine__machine_id="cnc_haas_vf2_001")
    health.state, health.predicted_at = 2, timezone.now()
    health.save()

    rendered = []
    read = selectors.card_machines
    monkeypatch.setattr(selectors, "card_machines", lambda pks: rendered.extend(pks) or read(pks))
    html = client.get("/?sort=name").content.decode()

    card = re.search(r'<article[^>]*data-machine-card="cnc_haas_vf2_001".*?</article>', html, re.S).group(0)
    assert "state-2" in card and "state-3" not in card
    assert rendered == [health.machine_id] and len(cards(html)) == 24


def fleet_queries(client, path: str) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        html = client.get(path).content.decode()
    return html, [q["sql"] for q in captured if "predictions_machinehealth" in q["sql"]]


def test_the_fleet_part_is_rendered_once_until_the_fleet_changes(client, viewer, operator, fleet):
    client.force_login(viewer)
    first, queries = fleet_queries(client, "/?sort=name")
    assert queries and "cnc_haas_vf2_001" in cards(first)
    client.force_login(operator)
    again, queries = fleet_queries(client, "/?sort=name")
    assert queries == [] and cards(again) == cards(first)
    assert 'id="fleet-overview"' in again and 'data-testid="fleet-category"' in again

    health = MachineHealth.objects.get(machine__machine_id="cnc_haas_vf2_001")
    health.state = 0
    health.save()
    html, queries = fleet_queries(client, "/?sort=name")
    assert queries and re.search(r'data-testid="overview-3" data-count="0"', html)

    FleetSnapshot.objects.create(counts={"0": 20, "1": 1, "2": 1, "3": 0, "unknown": 2})
    assert re.search(r'data-testid="change-0">▲ 8<', client.get("/?sort=name").content.decode())

    total = Machine.objects.filter(is_active=True).count()
    assert f"{total} active machines" in client.get("/fleet/overview/?sort=name").content.decode()
    assert "pump_ksb_etanorm_001" in cards(client.get("/?sort=name&page=2").content.decode())
    machine = Machine.objects.get(machine_id="pump_ksb_etanorm_001")
    machine.is_active = False
    machine.save()
    assert "pump_ksb_etanorm_001" not in cards(client.get("/?sort=name&page=2").content.decode())
    assert f"{total - 1} active machines" in client.get("/fleet/overview/?sort=name").content.decode()


def test_the_fleet_api_answers_from_the_cache_until_the_fleet_changes(api, viewer, fleet):
    api.force_authenticate(viewer)
    first = api.get("/api/v1/fleet/", {"state": "3"}).json()
    assert [m["machine_id"] for m in first["results"]] == ["cnc_haas_vf2_001"]
    with CaptureQueriesContext(connection) as captured:
        assert api.get("/api/v1/fleet/", {"state": "3"}).json() == first
    assert not [q for q in captured if "predictions_machinehealth" in q["sql"]]

    health = MachineHealth.objects.get(machine__machine_id="pump_ksb_etanorm_001")
    health.state = 3
    health.save()
    answer = api.get("/api/v1/fleet/", {"state": "3"}).json()
    assert {m["machine_id"] for m in answer["results"]} == {"cnc_haas_vf2_001", "pump_ksb_etanorm_001"}
    assert answer["overview"]["counts"]["3"] == 2
