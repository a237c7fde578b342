"""WebSocket routes of every app."""

from alerts.routing import websocket_urlpatterns as alerts_routes
from assistant.routing import websocket_urlpatterns as assistant_routes
from gan.routing import websocket_urlpatterns as gan_routes
from predictions.routing import websocket_urlpatterns as predictions_routes

websocket_urlpatterns = [*gan_routes, *predictions_routes, *assistant_routes, *alerts_routes]
