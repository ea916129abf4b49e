from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "tracker.accounts"
    label = "accounts"

    def ready(self):
        from . import roles

        post_migrate.connect(roles.ensure_groups, dispatch_uid="tracker.accounts.ensure_groups")
