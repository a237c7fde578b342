"""ASGI entry point for daphne: HTTP through Django, WebSockets through Channels."""

import os

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pdm_site.settings")
django.setup(set_prefix=False)


class SyncStackASGIHandler(ASGIHandler):
    """Django's ASGI handler with the middleware and the view run in one call on a worker thread.

    Every view and middleware here is synchronous. Django's stock ASGI handler runs the middleware in
    async mode and hops to a thread and back for each middleware method and for the view (about twenty
    hops a page, a few milliseconds of CPU); this one runs the sync stack exactly as under WSGI, in one hop.
    """

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


django_asgi_app = SyncStackASGIHandler()

import asyncio  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
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

# What the process holds from here on (modules, settings, every view through the URLconf) lives as long as
# it does: frozen, it leaves the collector's full passes, which otherwise scan it all and pause every
# request of the process (about 100 ms each, measured under load).
importlib.import_module(settings.ROOT_URLCONF)
gc.freeze()
