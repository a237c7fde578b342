from django.urls import path
from rest_framework.routers import SimpleRouter

from predictions import api, views

# The dashboard itself is the site's "/" (pdm_site.urls, URL name "dashboard"); these are the other pages.
app_name = "predictions"
urlpatterns = [
    path("fleet/cards/<str:machine_id>/", views.fleet_card, name="fleet_card"),
    path("fleet/overview/", views.fleet_overview, name="fleet_overview"),
    path("machines/<str:machine_id>/health/", views.machine_health, name="machine_health"),
    path("machines/<str:machine_id>/health/predict/", views.machine_predict, name="machine_predict"),
    path("models/", views.models, name="models"),
    path("models/train/", views.model_train, name="model_train"),
    path("models/<int:pk>/", views.model_detail, name="model_detail"),
    path("models/<int:pk>/activate/", views.model_activate_page, name="model_activate"),
    path("models/<int:pk>/rollback/", views.model_rollback_page, name="model_rollback"),
    path("models/<int:pk>/retrain/", views.model_retrain_page, name="model_retrain"),
    path("real-data/", views.real_data, name="real_data"),
    path("real-data/<int:pk>/", views.real_dataset, name="real_dataset"),
    path("real-data/<int:pk>/reanalyse/", views.real_dataset_reanalyse, name="real_dataset_reanalyse"),
    path("real-data/<int:pk>/train/", views.real_dataset_train, name="real_dataset_train"),
    path("real-data/<int:pk>/preset/", views.real_dataset_preset, name="real_dataset_preset"),
]

api_router = SimpleRouter()
api_router.register("models", api.ModelVersionViewSet, basename="model-version")
api_router.register("predictions", api.PredictionViewSet, basename="prediction")
api_router.register("real-datasets", api.RealDatasetViewSet, basename="real-dataset")
api_router.register("mapping-presets", api.MappingPresetViewSet, basename="mapping-preset")
api_urlpatterns = [
    # Before the router: "models/train/" must not be read as the model with pk "train".
    path("models/train/", api.ModelTrainView.as_view(), name="api-model-train"),
    *api_router.urls,
    path(
        "machines/<str:machine_id>/readings/", api.MachineReadingsView.as_view(), name="api-machine-readings"
    ),
    path("machines/<str:machine_id>/health/", api.MachineHealthView.as_view(), name="api-machine-health"),
    path("fleet/", api.FleetView.as_view(), name="api-fleet"),
]
