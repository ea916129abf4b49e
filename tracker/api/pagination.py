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
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError({"page_size": f"A whole number from 1 to {self.max_page_size}."})
        return int(raw)

    def get_ordering(self, request, queryset, view):
        value = request.query_params.get("ordering", self.ordering)
        if value not in ("id", "-id"):
            raise ValidationError({"ordering": "Use -id (newest first, the default) or id (oldest first)."})
        return (value,)

    def _get_position_from_instance(self, instance, ordering):
        # The pledge list pages over bare ids (values_list flat), which are their own position.
        if isinstance(instance, int):
            return str(instance)
        return super()._get_position_from_instance(instance, ordering)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": "Invalid cursor: use the next/previous links as given."}) from None
