from unittest import mock


def test_health_is_ok_with_postgres_redis_and_a_worker(api, celery_worker):
    response = api.get("/api/v1/health/")
    body = response.json()
    assert response.status_code == 200, body
    assert body["mode"] == "server"
    assert all(check["ok"] for check in body["checks"].values())


def test_health_is_503_and_names_the_broken_part(api, db):
    def worker_gone():
        raise RuntimeError("no Celery worker answered")

    with mock.patch.dict("pdm_site.health.CHECKS", {"worker": worker_gone}):
        response = api.get("/api/v1/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["worker"] == {
        "ok": False,
        "error": "RuntimeError: no Celery worker answered",
        "ms": mock.ANY,
    }
    assert body["checks"]["database"]["ok"]


def test_health_shows_no_secrets(api, db, settings):
    text = api.get("/api/v1/health/").content.decode()
    assert settings.SECRET_KEY not in text
    assert "redis://" not in text and "postgres://" not in text
