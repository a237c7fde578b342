"""Error pages: JSON under /api/, HTML elsewhere."""

from django.http import JsonResponse
from django.views import defaults

from pdm_site.api import error_body


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("Not found."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse(error_body("Server error: it has been logged."), status=500)
    return defaults.server_error(request)
