from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from .throttle import is_locked_out


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """Says plainly when logins are throttled, rather than "wrong password"."""

    def clean(self):
        if is_locked_out(self.request, self.data.get("username")):
            minutes = max(1, settings.LOGIN_THROTTLE_WINDOW // 60)
            raise ValidationError(
                f"Too many failed logins from your address or for this account. Try again in {minutes} minutes.",
                code="throttled",
            )
        return super().clean()


admin.site.login_form = ThrottledAdminAuthenticationForm
