"""The embedded default as `make run` serves it: one daphne process, SQLite, in-process worker."""

import asyncio
import json

import pytest
import requests
import websockets

pytestmark = pytest.mark.embedded


def test_health_reports_every_part_up_in_one_process(embedded_server):
    body = requests.get(f"{embedded_server.url}/api/v1/health/", timeout=5).json()
    assert body["mode"] == "embedded"
    assert body["status"] == "ok", body
    assert set(body["checks"]) == {"database", "cache", "broker", "channel_layer", "worker"}


def test_login_page_then_dashboard_for_a_demo_user(embedded_server):
    anonymous = requests.get(f"{embedded_server.url}/", allow_redirects=False, timeout=5)
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login/")
    session = embedded_server.session("operator")
    page = session.get(f"{embedded_server.url}/", timeout=5)
    assert 'data-testid="dashboard"' in page.text
    assert "role-operator" in page.text


def test_static_assets_are_served_without_collectstatic(embedded_server):
    response = requests.get(f"{embedded_server.url}/static/vendor/htmx.min.js", timeout=5)
    assert response.status_code == 200 and len(response.content) > 10_000


def test_anonymous_websocket_is_closed_with_4401(embedded_server):
    async def probe():
        async with websockets.connect(
            f"{embedded_server.ws_url}/ws/jobs/1/", origin=embedded_server.url
        ) as socket:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 5)
            return closed.value.rcvd.code

    assert asyncio.run(probe()) == 4401


def test_logged_in_websocket_gets_a_frame(embedded_server):
    session = embedded_server.session("viewer")
    cookie = f"sessionid={session.cookies['sessionid']}"

    async def probe():
        async with websockets.connect(
            f"{embedded_server.ws_url}/ws/jobs/999/",
            origin=embedded_server.url,
            additional_headers={"Cookie": cookie},
        ) as socket:
            return json.loads(await asyncio.wait_for(socket.recv(), 5))

    assert asyncio.run(probe()) == {"type": "error", "message": "No such job."}
