from . import startup  # noqa: F401  (registers the database system check)
from .celery import app as celery_app

__all__ = ["celery_app"]
