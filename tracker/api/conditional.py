"""ETags. Collections and summaries: derived from the data version, so a repeated read costs one tiny query
and answers 304. Records: derived from the record's own last change, for If-Match on writes."""
import hashlib
import re

from django.utils.http import http_date
from rest_framework import status
from rest_framework.response import Response

from tracker.commitments import selectors

from .errors import PreconditionFailed, PreconditionRequired
from .permissions import is_staff_reader


class NotModified(Exception):
    pass


micros = selectors.micros


VERSION_TAG = r'"[a-z]+-[0-9]+-[0-9]+"'
IF_MATCH = rf"^{VERSION_TAG}(?: *, *{VERSION_TAG})*$"  # one version, or several separated by commas


def record_etag(instance):
    return f'"{instance._meta.model_name}-{instance.pk}-{micros(instance.updated_at)}"'


def check_if_match(request, instance):
    """Refuse a write that does not name the record's current ETag."""
    expected = request.headers.get("If-Match")
    if not expected:
        raise PreconditionRequired()
    if not re.fullmatch(IF_MATCH, expected):
        # "*" (any version) would let a stale client overwrite a newer change unseen; anything else is no version
        raise PreconditionRequired("If-Match must carry the record's current ETag (its `version`), " + (
            "not *." if expected.strip() == "*" else 'such as "pledge-12-1748000000000000".'))
    if record_etag(instance) not in [tag.strip(" ") for tag in expected.split(",")]:
        raise PreconditionFailed()


def _matches(request, etag):
    header = request.headers.get("If-None-Match", "")
    return header.strip() == "*" or etag in [tag.strip() for tag in header.split(",")]


class ConditionalGetMixin:
    """GET answers 304 when nothing changed since the caller's copy, before any work is done."""

    def collection_etag(self, request):
        audience = "staff" if is_staff_reader(request.user) else "public"
        version, changed_at = self.data_version = selectors.data_version(public=audience == "public")
        accept = request.headers.get("Accept", "")
        stamp = changed_at.timestamp() if changed_at else 0
        digest = hashlib.sha256(f"{version}|{stamp}|{audience}|{request.get_full_path()}|{accept}".encode()).hexdigest()
        return f'W/"{digest[:32]}"', changed_at

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._etag = self._last_modified = None
        if request.method in ("GET", "HEAD") and not self.is_record_request():
            self._etag, self._last_modified = self.collection_etag(request)
            if _matches(request, self._etag):
                raise NotModified()

    def is_record_request(self):
        return "pk" in self.kwargs or "slug" in self.kwargs

    def not_modified_for_record(self, request, instance):
        """For record GETs: the record's ETag, or 304 if the caller has it."""
        self._etag = record_etag(instance)
        self._last_modified = instance.updated_at
        if _matches(request, self._etag):
            raise NotModified()

    def handle_exception(self, exc):
        if isinstance(exc, NotModified):
            response = Response(status=status.HTTP_304_NOT_MODIFIED)
            response["ETag"] = self._etag
            return response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        etag = getattr(self, "_etag", None)
        if etag and request.method in ("GET", "HEAD") and response.status_code == 200:
            response["ETag"] = etag
            if self._last_modified:
                response["Last-Modified"] = http_date(self._last_modified.timestamp())
            response["Cache-Control"] = "no-cache" if is_staff_reader(request.user) else "public, no-cache"
            response["Vary"] = "Accept, Authorization, Cookie"
        return response
