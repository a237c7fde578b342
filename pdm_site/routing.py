"""WebSocket routes of every app."""

from gan.routing import websocket_urlpatterns as gan_routes

websocket_urlpatterns = [*gan_routes]
