"""ASGI entry point for daphne: HTTP through Django, WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pdm_site.settings")
django_asgi_app = get_asgi_application()

import asyncio  # noqa: E402
import sys  # noqa: E402

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from pdm_site import embedded, realtime, startup  # noqa: E402
from pdm_site.routing import websocket_urlpatterns  # noqa: E402

router = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)


async def application(scope, receive, send):
    # Sends from worker threads are scheduled on this loop (see pdm_site.realtime).
    realtime.remember_server_loop(asyncio.get_running_loop())
    await router(scope, receive, send)


# Started by the daphne command line in server mode (not imported by a test or a tool): an unreachable
# database stops the start at once, with one line naming its address.
if settings.SERVER_MODE and "daphne.cli" in sys.modules:
    startup.require_database()

if settings.EMBEDDED_WORKER:
    embedded.start_worker()
    if "daphne.cli" in sys.modules:
        # Daphne runs on Twisted's reactor: the worker stops before it, so a Ctrl-C or SIGTERM exits
        # at once instead of waiting on queued tasks and running jobs. Stopping takes a thread: the
        # loop keeps running meanwhile to carry the last progress messages of the tasks.
        from twisted.internet import reactor, threads

        reactor.addSystemEventTrigger("before", "shutdown", threads.deferToThread, embedded.stop_worker)
