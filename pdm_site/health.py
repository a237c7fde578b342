"""GET /api/v1/health/: reachability of every moving part, no secrets."""

import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from pdm_site import embedded
from pdm_site.celery import app as celery_app


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache() -> None:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "ok", 5)
    if cache.get(key) != "ok":
        raise RuntimeError("value written was not read back")
    cache.delete(key)


def _broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _channel_layer() -> None:
    layer = get_channel_layer()

    async def round_trip():
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "health.ping"})
        return await layer.receive(channel)

    if async_to_sync(round_trip)().get("type") != "health.ping":
        raise RuntimeError("message sent was not received")


def _worker() -> None:
    if settings.EMBEDDED_WORKER:
        if not embedded.worker_alive():
            raise RuntimeError("the in-process worker is not running")
        return
    if not celery_app.control.ping(timeout=1.0, limit=1):
        raise RuntimeError("no Celery worker answered a ping within 1 s")


CHECKS = {
    "database": _database,
    "cache": _cache,
    "broker": _broker,
    "channel_layer": _channel_layer,
    "worker": _worker,
}


def run_checks() -> dict[str, dict]:
    results = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
            results[name] = {"ok": True}
        except Exception as exc:
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return results


class HealthView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        summary="Reachability of database, cache, broker, channel layer and worker",
        responses={
            (200, "application/json"): inline_serializer(
                "Health",
                {
                    "status": serializers.ChoiceField(["ok", "degraded"]),
                    "mode": serializers.ChoiceField(["embedded", "server"]),
                    "checks": serializers.DictField(child=serializers.DictField()),
                },
            ),
            (503, "application/json"): inline_serializer(
                "HealthDegraded",
                {
                    "status": serializers.CharField(),
                    "mode": serializers.CharField(),
                    "checks": serializers.DictField(),
                },
            ),
        },
    )
    def get(self, request):
        checks = run_checks()
        healthy = all(result["ok"] for result in checks.values())
        body = {
            "status": "ok" if healthy else "degraded",
            "mode": "embedded" if settings.EMBEDDED else "server",
            "checks": checks,
        }
        return Response(body, status=200 if healthy else 503)
