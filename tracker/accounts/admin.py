from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.db import transaction


class LockoutAdminAuthenticationForm(AdminAuthenticationForm):
    """Checks credentials in one transaction, committed whatever the outcome, so that lockout.LoginGateBackend's
    locks last until the attempt's failure is recorded. A locked-out attempt is answered by django-axes
    (429, with accounts/locked_out.html)."""

    def clean(self):
        refused = None
        with transaction.atomic():
            try:
                cleaned = super().clean()
            except ValidationError as error:
                refused = error
        if refused is not None:
            raise refused
        return cleaned


admin.site.login_form = LockoutAdminAuthenticationForm
