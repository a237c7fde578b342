from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.api import TokenView
from accounts.forms import LoginForm

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=LoginForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

api_urlpatterns = [path("auth/token/", TokenView.as_view(), name="api-token")]
