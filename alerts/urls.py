from django.urls import path
from rest_framework.routers import SimpleRouter

from alerts import api, views

app_name = "alerts"
urlpatterns = [
    path("alarms/", views.alarms, name="alarms"),
    path("alarms/<int:pk>/", views.alarm_detail, name="alarm"),
    path("alarms/<int:pk>/acknowledge/", views.alarm_acknowledge_page, name="alarm_acknowledge"),
    path("alarms/<int:pk>/resolve/", views.alarm_resolve_page, name="alarm_resolve"),
    path("rules/", views.rules_page, name="rules"),
    path("rules/new/", views.rule_new, name="rule_new"),
    path("rules/<int:pk>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:pk>/delete/", views.rule_delete_page, name="rule_delete"),
    path("work-orders/", views.work_orders_page, name="work_orders"),
    path("work-orders/new/", views.work_order_new, name="work_order_new"),
    path("work-orders/<int:pk>/", views.work_order_detail, name="work_order"),
    path("work-orders/<int:pk>/status/", views.work_order_status, name="work_order_status"),
    path("notifications/", views.notifications_page, name="notifications"),
    path("notifications/bell/", views.bell, name="bell"),
    path("notifications/read-all/", views.notifications_read_all_page, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", views.notification_read_page, name="notification_read"),
    path("preferences/", views.preferences, name="preferences"),
    path("preferences/test/", views.preferences_test, name="preferences_test"),
    path("webhooks/", views.webhooks_page, name="webhooks"),
    path("webhooks/<int:pk>/", views.webhook_detail, name="webhook"),
    path("drift/", views.drift_page, name="drift"),
    path("drift/<str:machine_id>/", views.drift_machine, name="drift_machine"),
    path("drift/<str:machine_id>/check/", views.drift_check_page, name="drift_check"),
    path("drift/<str:machine_id>/retrain/", views.drift_retrain_page, name="drift_retrain"),
    path("machines/<str:machine_id>/failure-dataset/", views.failure_dataset_page, name="failure_dataset"),
    path("panels/risk/", views.risk_panel, name="risk_panel"),
    path("panels/recent/", views.recent_panel, name="recent_panel"),
]

api_router = SimpleRouter()
api_router.register("alert-rules", api.AlertRuleViewSet, basename="alert-rule")
api_router.register("alarms", api.AlarmViewSet, basename="alarm")
api_router.register("work-orders", api.WorkOrderViewSet, basename="work-order")
api_router.register("maintenance-events", api.MaintenanceEventViewSet, basename="maintenance-event")
api_router.register("webhooks", api.WebhookViewSet, basename="webhook")
api_router.register("notifications", api.NotificationViewSet, basename="notification")
api_urlpatterns = [
    # Before the router: "notifications/preferences/" must not be read as the notification "preferences".
    path(
        "notifications/preferences/",
        api.NotificationPreferenceView.as_view(),
        name="api-notification-preferences",
    ),
    *api_router.urls,
    path("fleet/risk/", api.FleetRiskView.as_view(), name="api-fleet-risk"),
    path("machines/<str:machine_id>/drift/", api.MachineDriftView.as_view(), name="api-machine-drift"),
    path(
        "machines/<str:machine_id>/drift/retrain/",
        api.MachineDriftRetrainView.as_view(),
        name="api-machine-drift-retrain",
    ),
    path(
        "machines/<str:machine_id>/failure-dataset/",
        api.FailureDatasetView.as_view(),
        name="api-machine-failure-dataset",
    ),
]
