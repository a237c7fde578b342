from django.contrib.auth.forms import AuthenticationForm


class LoginForm(AuthenticationForm):
    # One message for every failure: it says nothing about which of the two was wrong.
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Wrong username or password.",
        "inactive": "Wrong username or password.",
    }
