from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from machines import api, views

app_name = "machines"
urlpatterns = [
    path("", views.machine_list_page, name="list"),
    path("new/", views.machine_new, name="new"),
    path("validate/", views.profile_check_view, name="validate"),
    path("<str:machine_id>/", views.machine_detail, name="detail"),
    path("<str:machine_id>/edit/", views.machine_edit, name="edit"),
    path("<str:machine_id>/activation/", views.machine_activation, name="activation"),
    path("<str:machine_id>/delete/", views.machine_delete_page, name="delete"),
    path("<str:machine_id>/versions/<int:number>/restore/", views.version_restore, name="restore"),
]

api_router = SimpleRouter()
api_router.register("machines", api.MachineViewSet, basename="machine")
api_router.register("categories", api.CategoryViewSet, basename="category")
api_urlpatterns = [
    *api_router.urls,
    path("profiles/validate/", api.ProfileValidateView.as_view(), name="api-profile-validate"),
    path("templates/", api.ProfileTemplateListView.as_view(), name="api-profile-templates"),
    re_path(
        r"^templates/(?P<name>[a-z_]+)\.(?P<extension>json|yaml|xlsx)$",
        api.ProfileTemplateFileView.as_view(),
        name="api-profile-template-file",
    ),
]
