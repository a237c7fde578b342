"""/metrics for Prometheus: admins, or a scraper holding METRICS_TOKEN."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.utils.crypto import constant_time_compare
from django_prometheus.exports import ExportToDjangoView

from accounts.roles import Role, has_role


def _scraper_token_ok(request) -> bool:
    token = settings.METRICS_TOKEN
    return bool(token) and constant_time_compare(request.headers.get("Authorization", ""), f"Bearer {token}")


@login_not_required
def metrics(request):
    if not (_scraper_token_ok(request) or has_role(request.user, Role.ADMIN)):
        status = 403 if request.user.is_authenticated else 401
        return HttpResponse("Metrics need an admin login or the METRICS_TOKEN bearer token.\n", status=status)
    return ExportToDjangoView(request)


metrics.role_rule = (Role.ADMIN, Role.ADMIN)
