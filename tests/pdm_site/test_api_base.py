from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from tests.conftest import PASSWORD


def test_unknown_api_route_is_json_404(api, db):
    response = api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "errors": {}}


def test_anonymous_api_call_is_401_with_the_error_body(api, db):
    response = api.get("/api/v1/jobs/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert set(response.json()) == {"detail", "errors"}


def test_token_from_credentials_authenticates(api, operator):
    response = api.post("/api/v1/auth/token/", {"username": "operator", "password": PASSWORD})
    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(user=operator).key == token
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/jobs/").status_code == 200


def test_token_with_wrong_password_names_the_problem(api, operator):
    response = api.post("/api/v1/auth/token/", {"username": "operator", "password": "wrong"})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert body["detail"].startswith("Invalid input")


def test_missing_field_is_named(api, db):
    response = api.post("/api/v1/auth/token/", {"username": "operator"})
    assert response.status_code == 400
    assert "password" in response.json()["errors"]


def test_throttled_requests_get_429_with_retry_after(api, viewer, monkeypatch):
    # DRF copies the rates from settings onto the throttle class when it is imported.
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "user": "3/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    api.as_user(viewer)
    statuses = [api.get("/api/v1/jobs/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = api.get("/api/v1/jobs/")
    assert int(response["Retry-After"]) > 0
    assert "throttled" in response.json()["detail"].lower()


def test_schema_documents_error_body_and_429(api, db):
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail", "errors"]
    jobs_list = schema["paths"]["/api/v1/jobs/"]["get"]["responses"]
    assert "429" in jobs_list and "Retry-After" in jobs_list["429"]["headers"]


def test_swagger_ui_is_served_offline(client, db):
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower()
