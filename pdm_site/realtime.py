"""Sending to channel-layer groups from synchronous code (services, Celery tasks, views).

Every send runs on one long-lived event loop per process: the web server's own loop when this process
serves ASGI (so the in-memory layer's queues are woken on the loop that owns them, and channels-redis
keeps one connection pool), otherwise a background loop thread (a Celery worker). Calling
async_to_sync per message instead would open a loop per call — slow, and channels-redis then fails
with "Event loop is closed".

Live messages are best effort: a send that fails (Redis down or restarting) is dropped with a warning and
the work goes on. The database holds every job's state; a client reads it when it connects again.
"""

import asyncio
import logging
import threading
import time

from channels.layers import get_channel_layer

_server_loop: asyncio.AbstractEventLoop | None = None
_background_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()
SEND_TIMEOUT_SECONDS = 5.0
WARN_EVERY_SECONDS = 60.0
_warned_at = -WARN_EVERY_SECONDS
logger = logging.getLogger(__name__)


def remember_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _server_loop
    _server_loop = loop


def _loop() -> asyncio.AbstractEventLoop:
    global _background_loop
    if _server_loop is not None and not _server_loop.is_closed():
        return _server_loop
    with _lock:
        if _background_loop is None:
            _background_loop = asyncio.new_event_loop()
            threading.Thread(
                target=_background_loop.run_forever, name="channel-layer-loop", daemon=True
            ).start()
    return _background_loop


def broadcast(group: str, message: dict) -> None:
    """Send `message` (with a "type" naming the consumer handler) to every socket in `group`."""
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        loop.create_task(layer.group_send(group, message)).add_done_callback(_sent)
        return
    # Waiting keeps messages in order (the final frame after the last progress frame).
    try:
        asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).result(SEND_TIMEOUT_SECONDS)
    except Exception as exc:
        _dropped(exc)


def _sent(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        _dropped(task.exception())


def _dropped(exc: BaseException) -> None:
    """One warning a minute while live messages are lost."""
    global _warned_at
    now = time.monotonic()
    if now - _warned_at >= WARN_EVERY_SECONDS:
        _warned_at = now
        logger.warning("Channel layer unreachable, live messages dropped: %s: %s", type(exc).__name__, exc)
