from django.urls import path
from rest_framework.routers import SimpleRouter

from gan import api, views

app_name = "gan"
urlpatterns = [
    path("explorer/", views.explorer, name="explorer"),
    path("explorer/export.csv", views.explorer_export, name="explorer-export"),
    path("batch/", views.batch, name="batch"),
    path("machines/<str:machine_id>/workflow/", views.workflow, name="workflow"),
    path("machines/<str:machine_id>/seed/", views.seed_step, name="seed"),
    path("machines/<str:machine_id>/train/", views.train_step, name="train"),
    path("machines/<str:machine_id>/generate/", views.generate_step, name="generate"),
    path("machines/<str:machine_id>/validate/", views.validate_step, name="validate"),
    path("synthesizers/<int:pk>/activate/", views.synthesizer_activate_page, name="activate"),
]

api_router = SimpleRouter()
api_router.register("jobs", api.JobViewSet, basename="job")
api_router.register("seeds", api.SeedDatasetViewSet, basename="seed")
api_router.register("synthesizers", api.SynthesizerViewSet, basename="synthesizer")
api_router.register("datasets", api.SyntheticDatasetViewSet, basename="dataset")
api_router.register("quality-reports", api.QualityReportViewSet, basename="quality-report")
api_urlpatterns = [
    *api_router.urls,
    path("machines/<str:machine_id>/seed/", api.SeedStartView.as_view(), name="api-machine-seed"),
    path("machines/<str:machine_id>/train/", api.TrainStartView.as_view(), name="api-machine-train"),
    path("machines/<str:machine_id>/generate/", api.GenerateStartView.as_view(), name="api-machine-generate"),
    path("machines/<str:machine_id>/validate/", api.ValidateStartView.as_view(), name="api-machine-validate"),
    path("machines/<str:machine_id>/status/", api.WorkflowStatusView.as_view(), name="api-machine-status"),
    path("batches/", api.BatchStartView.as_view(), name="api-batch-start"),
]
