import hmac

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiToken, hash_secret


class TokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <prefix>.<secret>`, checked against the stored hash."""

    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be “Token <key>”.")
        try:
            prefix, secret = header[1].decode().split(".", 1)
        except (UnicodeDecodeError, ValueError):
            raise exceptions.AuthenticationFailed("Malformed token.") from None
        token = ApiToken.objects.select_related("user").filter(prefix=prefix, revoked_at=None).first()
        if token is None or not hmac.compare_digest(token.secret_hash, hash_secret(secret)):
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's account is disabled.")
        if token.last_used_at is None or (timezone.now() - token.last_used_at).total_seconds() > 3600:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
