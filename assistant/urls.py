from django.urls import path
from rest_framework.routers import SimpleRouter

from assistant import api, views

app_name = "assistant"
urlpatterns = [
    path("", views.chat, name="chat"),
    path("conversations/<int:pk>/delete/", views.conversation_delete_page, name="conversation_delete"),
    path("reports/", views.reports, name="reports"),
    path("reports/<int:pk>/row/", views.report_row, name="report_row"),
    path("manuals/", views.manuals, name="manuals"),
    path("manuals/<int:pk>/delete/", views.manual_delete_page, name="manual_delete"),
]

api_router = SimpleRouter()
api_router.register("explanations", api.ExplanationViewSet, basename="explanation")
api_router.register("conversations", api.ConversationViewSet, basename="conversation")
api_router.register("manuals", api.ManualViewSet, basename="manual")
api_router.register("reports", api.ReportViewSet, basename="report")
api_urlpatterns = [
    path("chat/", api.ChatView.as_view(), name="api-chat"),
    *api_router.urls,
]
