from accounts.consumers import RoleConsumer
from predictions.services.serving import FLEET_GROUP


class FleetConsumer(RoleConsumer):
    """/ws/fleet/: a "machine.updated" message whenever a machine's readings or predictions change."""

    async def joined(self):
        await self.channel_layer.group_add(FLEET_GROUP, self.channel_name)
        self.joined_group = True
        await self.send_json({"type": "connected", "group": FLEET_GROUP})

    async def disconnect(self, code):
        if getattr(self, "joined_group", False):
            await self.channel_layer.group_discard(FLEET_GROUP, self.channel_name)

    async def fleet_machine(self, event):
        await self.send_json(event["message"])

    async def receive_json(self, content, **kwargs):
        await self.send_error("This socket only sends; ask for predictions with POST /api/v1/predictions/.")
