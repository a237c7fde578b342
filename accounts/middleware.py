from django.contrib.auth.middleware import LoginRequiredMiddleware
from rest_framework.views import APIView


class PageLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Every page needs login; API views answer 401 themselves (session or token) instead of redirecting."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        view_class = getattr(view_func, "cls", None)
        if view_class is not None and issubclass(view_class, APIView):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
