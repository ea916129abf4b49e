from django.db import models


class LoginGate(models.Model):
    """A row per username and per client address that tried to log in: locked while one attempt is checked."""

    key = models.CharField(max_length=200, unique=True)

    def __str__(self):
        return self.key
