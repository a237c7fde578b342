from channels.db import database_sync_to_async

from accounts.consumers import CLOSE_NOT_FOUND, RoleConsumer
from gan.models import Job
from gan.services.progress import job_message


class JobProgressConsumer(RoleConsumer):
    """/ws/jobs/<id>/: the job's state and loss history on connect, then live messages, then `closing`."""

    async def joined(self):
        self.group = f"job_{self.scope['url_route']['kwargs']['job_id']}"
        # Join before reading the state, so nothing sent in between is missed.
        await self.channel_layer.group_add(self.group, self.channel_name)
        snapshot = await self._snapshot()
        if snapshot is None:
            await self.send_error("No such job.")
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send_json(snapshot)
        if snapshot["status"] in Job.FINISHED:
            await self.send_json({**snapshot, "type": "closing"})
            await self.close()

    @database_sync_to_async
    def _snapshot(self) -> dict | None:
        job = (
            Job.objects.select_related("machine")
            .filter(pk=self.scope["url_route"]["kwargs"]["job_id"])
            .first()
        )
        if job is None:
            return None
        return job_message(job, "connected", loss_history=job.loss_history, error=job.error)

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def job_message(self, event):
        await self.send_json(event["message"])
        if event["message"]["type"] == "closing":
            await self.close()

    async def receive_json(self, content, **kwargs):
        await self.send_error("This socket only sends; cancel a job with POST /api/v1/jobs/<id>/cancel/.")
