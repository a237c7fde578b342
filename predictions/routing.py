from django.urls import path

from predictions.consumers import FleetConsumer

websocket_urlpatterns = [path("ws/fleet/", FleetConsumer.as_asgi())]
