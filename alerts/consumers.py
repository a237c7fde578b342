from channels.db import database_sync_to_async

from accounts.consumers import RoleConsumer
from alerts.selectors import unread_count
from alerts.services.notifications import user_group


class NotificationConsumer(RoleConsumer):
    """/ws/notifications/: the user's own notifications, live (the toast and the bell's count).

    Every page opens it; the group is the user's own, so nobody receives another user's messages."""

    async def joined(self):
        user = self.scope["user"]
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        unread = await database_sync_to_async(unread_count)(user)
        await self.send_json({"type": "connected", "unread": unread})

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def notification_message(self, event):
        await self.send_json(event["message"])

    async def receive_json(self, content, **kwargs):
        await self.send_error("This socket only sends; mark notifications read with the API or the bell.")
