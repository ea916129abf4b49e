from django.conf import settings
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class StableCursorPagination(CursorPagination):
    """Cursor pages stay stable while editors insert: a page never repeats or skips a record."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE
    ordering = "-id"

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if not raw:  # absent, or left empty as a form leaves a field: the default
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError({"page_size": f"A whole number from 1 to {self.max_page_size}."})
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
                parameter["description"] = f"Records per page, 1 to {self.max_page_size} (default {self.page_size})."
        return parameters + [{
            "name": "ordering", "required": False, "in": "query",
            "description": "-id: newest first (the default); id: oldest first.",
            "schema": {"type": "string", "enum": ["-id", "id"]},
        }]

    def get_ordering(self, request, queryset, view):
        value = request.query_params.get("ordering") or self.ordering
        if value not in ("id", "-id"):
            raise ValidationError({"ordering": "Use -id (newest first, the default) or id (oldest first)."})
        return (value,)

    def decode_cursor(self, request):
        invalid = ValidationError({"cursor": "Invalid cursor: use the next/previous links as given."})
        if request.query_params.get(self.cursor_query_param) == "":
            return None  # left empty: the first page
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise invalid from None
        # A cursor is only base64 of "o=&r=&p=": a forged one could hold any position. Positions are ids.
        if cursor is not None and cursor.position is not None and not (
                cursor.position.isascii() and cursor.position.isdigit() and len(cursor.position) <= 18):
            raise invalid
        if cursor is not None and cursor.position is None and not cursor.offset and not cursor.reverse:
            raise invalid  # it decoded to nothing: no link this API gives looks like that
        return cursor
