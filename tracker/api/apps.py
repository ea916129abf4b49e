from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "tracker.api"
    label = "api"
    verbose_name = "API"
