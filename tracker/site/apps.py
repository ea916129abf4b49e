from django.apps import AppConfig


class SiteConfig(AppConfig):
    name = "tracker.site"
    label = "reader_site"
