from rest_framework.routers import SimpleRouter

from gan.api import JobViewSet

app_name = "gan"
urlpatterns = []

api_router = SimpleRouter()
api_router.register("jobs", JobViewSet, basename="job")
api_urlpatterns = api_router.urls
