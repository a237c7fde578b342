"""The WebSocket side of the role rules: anonymous sockets close with 4401, forbidden ones with 4403."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.roles import Role, has_role

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


class RoleConsumer(AsyncJsonWebsocketConsumer):
    """Accepts only users holding `required_role`; subclasses implement `joined()`.

    The socket is accepted before it is closed so that browsers receive the close code.
    """

    required_role = Role.VIEWER

    async def connect(self):
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await database_sync_to_async(has_role)(user, self.required_role):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.joined()

    async def joined(self):
        raise NotImplementedError

    async def send_error(self, message: str, **extra):
        await self.send_json({"type": "error", "message": message, **extra})
