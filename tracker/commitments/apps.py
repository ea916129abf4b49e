from django.apps import AppConfig


class CommitmentsConfig(AppConfig):
    name = "tracker.commitments"
    label = "commitments"
    verbose_name = "Coalition commitments"

    def ready(self):
        from . import services  # noqa: F401  (connects the history receiver that records cited sources)
