from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import urls as accounts_urls
from alerts import urls as alerts_urls
from assistant import urls as assistant_urls
from gan import urls as gan_urls
from machines import urls as machines_urls
from pdm_site.health import HealthView
from pdm_site.metrics import metrics
from predictions import urls as predictions_urls
from predictions import views as predictions_views

api_v1 = [
    path("health/", HealthView.as_view(), name="api-health"),
    *accounts_urls.api_urlpatterns,
    *gan_urls.api_urlpatterns,
    *machines_urls.api_urlpatterns,
    *predictions_urls.api_urlpatterns,
    *assistant_urls.api_urlpatterns,
    *alerts_urls.api_urlpatterns,
]

urlpatterns = [
    path("", include(accounts_urls)),
    path("", predictions_views.dashboard, name="dashboard"),
    path("", include(predictions_urls)),
    path("data/", include(gan_urls)),
    path("machines/", include(machines_urls)),
    path("assistant/", include(assistant_urls)),
    path("alerts/", include(alerts_urls)),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

handler404 = "pdm_site.views.not_found"
handler500 = "pdm_site.views.server_error"
