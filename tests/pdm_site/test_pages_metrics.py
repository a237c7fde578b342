def test_metrics_are_restricted(client, viewer, admin_user):
    assert client.get("/metrics").status_code == 401
    client.force_login(viewer)
    assert client.get("/metrics").status_code == 403
    client.force_login(admin_user)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"django_http_requests_total_by_method_total" in response.content


def test_metrics_accept_the_scraper_token(client, db, settings):
    settings.METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200
