from django.apps import AppConfig


class GanConfig(AppConfig):
    name = "gan"
    verbose_name = "Synthetic data and jobs"
