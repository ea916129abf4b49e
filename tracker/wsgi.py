"""WSGI entry point: `gunicorn tracker.wsgi`."""
import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - import the URLconf, views and serializers now, not on the first request

# Everything loaded so far (Django, the URLconf, the models) lives as long as the process. Freezing it keeps
# the garbage collector from walking those objects again on every full collection while serving requests.
gc.freeze()
