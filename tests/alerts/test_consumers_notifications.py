"""/ws/notifications/ over the real channel layer (Redis in server mode): roles, then a toast frame for each
user the alarm reaches — and only the user's own notifications."""

import pytest
from channels.db import database_sync_to_async

from alerts.models import AlertRule
from alerts.services.alarms import Finding, alarm_raise
from alerts.services.notifications import user_notify

pytestmark = pytest.mark.django_db(transaction=True)


async def test_anonymous_and_roleless_sockets_are_closed(make_user, open_socket):
    anonymous = await open_socket("/ws/notifications/")
    assert await anonymous.receive_output() == {"type": "websocket.close", "code": 4401}
    roleless = await open_socket("/ws/notifications/", await database_sync_to_async(make_user)(None))
    assert await roleless.receive_output() == {"type": "websocket.close", "code": 4403}


async def test_an_alarm_is_toasted_to_every_user_and_a_personal_message_to_its_owner_only(
    viewer, operator, motor, make_rule, open_socket
):
    rule = await database_sync_to_async(make_rule)(AlertRule.Kind.HEALTH_STATE, state_at_least=2)
    sockets = {
        "viewer": await open_socket("/ws/notifications/", viewer),
        "operator": await open_socket("/ws/notifications/", operator),
    }
    for socket in sockets.values():
        assert await socket.receive_json_from(timeout=5) == {"type": "connected", "unread": 0}

    alarm, _ = await database_sync_to_async(alarm_raise)(
        rule=rule,
        machine=motor,
        finding=Finding("Health state Critical", "critical", "The health model says so."),
    )
    for socket in sockets.values():
        frame = await socket.receive_json_from(timeout=10)
        assert frame["type"] == "notification" and frame["unread"] == 1
        assert frame["notification"]["title"] == "Critical: Health state Critical"
        assert frame["notification"]["alarm"] == {"id": alarm.pk, "status": "open"}
        assert frame["notification"]["url"] == f"/alerts/alarms/{alarm.pk}/"

    await database_sync_to_async(user_notify)(
        user=operator, title="WO-1 assigned to you", body="", url="/alerts/work-orders/1/", kind="work_order"
    )
    frame = await sockets["operator"].receive_json_from(timeout=10)
    assert frame["notification"]["title"] == "WO-1 assigned to you" and frame["unread"] == 2
    assert await sockets["viewer"].receive_nothing(timeout=0.5)

    await sockets["viewer"].send_json_to({"type": "hello"})
    assert (await sockets["viewer"].receive_json_from(timeout=5))["type"] == "error"
