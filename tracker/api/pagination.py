import datetime
import re
from decimal import Decimal

from django.conf import settings
from django.db.models import F, FloatField, Q
from django.db.models.functions import Cast
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param

from tracker.commitments import summaries
from tracker.commitments.search import RANK

from .permissions import is_staff_reader

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
# What each sortable field's cursor position holds, and how it is read back: forged text is a 400, never a 500.
POSITIONS = {
    "eur_value": (r"[0-9]{1,16}(?:\.[0-9]{1,2})?", Decimal),
    "announced_on": (r"[0-9]{4}-[0-9]{2}-[0-9]{2}", datetime.date.fromisoformat),
    "updated_at": (r"[0-9]{1,17}", lambda text: EPOCH + datetime.timedelta(microseconds=int(text))),
    "relevance": (r"[0-9]{1,20}(?:\.[0-9]{1,20})?(?:e-[0-9]{1,3})?", float),
}
DESCRIPTIONS = {
    "eur_value": "eur_value: lowest value in EUR first (with as_of, the value that day), -eur_value: highest first",
    "announced_on": "announced_on: earliest announcement first, -announced_on: latest first",
    "updated_at": "updated_at: least recently changed first, -updated_at: most recently changed first",
    "relevance": "-relevance: best matches of `search` first (the default when searching), relevance: weakest first;"
                 " without `search`, the id's order",
}
NULLABLE = {"eur_value", "announced_on"}


class SortKey:
    """One `ordering`: a field, either way, with NULLs (an unvalued pledge, an unknown date) last both ways and the
    id breaking ties, so every record has one place. A cursor position is `value~id` (`~id` for NULL), or the id
    alone when sorting by id; the next page starts strictly after it, whatever was inserted meanwhile."""

    def __init__(self, ordering, queryset):
        self.descending = ordering.startswith("-")
        name = ordering.lstrip("-")
        self.name = name
        # With as_of (or a filter on a pledge's state), the figures listed are those of that day: sort by them.
        if name == "relevance":  # the rank a search gave each pledge; without a search, all tie: by id
            self.field = "relevance_position" if RANK in queryset.query.annotations else None
        else:
            self.field = None if name == "id" else (
                f"state_{name}" if f"state_{name}" in queryset.query.annotations else name)

    def order_by(self):
        """This order as one ORDER BY (downloads, which sort every row anyway)."""
        by_id = "-id" if self.descending else "id"
        if self.field is None:
            return [by_id]
        column = F(RANK if self.name == "relevance" else self.field)
        value = column.desc(nulls_last=True) if self.descending else column.asc(nulls_last=True)
        return [value, by_id]

    def position(self, row):
        pk = row["id"] if isinstance(row, dict) else row.pk
        if self.field is None:
            return str(pk)
        value = row["sort_position"] if isinstance(row, dict) else row.sort_position
        if value is None:
            text = ""
        elif isinstance(value, datetime.datetime):
            text = str((value - EPOCH) // datetime.timedelta(microseconds=1))
        elif isinstance(value, Decimal):
            text = format(value, "f")
        elif isinstance(value, float):
            text = repr(max(value, 0.0))  # a rank: never negative; repr reads back as the same float
        else:
            text = value.isoformat()
        return f"{text}~{pk}"

    def parse(self, text):
        """(value, id) from a cursor position; ValueError if it is not one this key writes."""
        if self.field is None:
            if not re.fullmatch(r"[0-9]{1,18}", text):
                raise ValueError(text)
            return None, int(text)
        pattern, read = POSITIONS[self.name]
        match = re.fullmatch(rf"({pattern})?~([0-9]{{1,18}})", text)
        if not match:
            raise ValueError(text)
        value, pk = match.groups()
        return (None if value is None else read(value)), int(pk)

    def segments(self, queryset, position, reverse=False):
        """Querysets whose rows, one after the other, are those after `position` (None: from the start) in this
        order; reverse: those before it, nearest first (None: from the end). The rows with a value and the NULLs
        are separate queries, each of which an index on (field, id) serves either way: a page deep in a long list
        costs what the first one does (a condition `value > x OR value IS NULL` would scan from the start)."""
        if self.field is None:
            descending = self.descending != reverse
            rows = queryset.order_by("-id" if descending else "id")
            if position is not None:
                rows = rows.filter(**{"id__lt" if descending else "id__gt": position[1]})
            return [rows]
        if self.name == "relevance":
            # As a double: PostgreSQL's rank is a 4-byte real, whose text (in the cursor) is not its exact value.
            queryset = queryset.annotate(relevance_position=Cast(RANK, FloatField()))
        queryset = queryset.annotate(sort_position=F(self.field))
        value, pk = position if position is not None else (None, None)
        forward, backward = self.descending, not self.descending
        if not reverse:
            if position is None:
                parts = [self._valued(queryset, forward), self._nulls(queryset, forward)]
            elif value is not None:
                parts = [self._valued(queryset, forward, (value, pk)), self._nulls(queryset, forward)]
            else:
                parts = [self._nulls(queryset, forward, pk)]
        elif position is None:
            parts = [self._nulls(queryset, backward), self._valued(queryset, backward)]
        elif value is not None:
            parts = [self._valued(queryset, backward, (value, pk))]
        else:
            parts = [self._nulls(queryset, backward, pk), self._valued(queryset, backward)]
        return [part for part in parts if part is not None]

    def _valued(self, queryset, descending, after=None):
        """The rows with a value, in (value, id) order, after `after`."""
        field, later = self.field, "lt" if descending else "gt"
        rows = queryset.filter(**{f"{field}__isnull": False}).order_by(
            f"-{field}" if descending else field, "-id" if descending else "id")
        if after is not None:
            value, pk = after  # value >= x AND (value > x OR id > y): the first part bounds an index scan
            rows = rows.filter(Q(**{f"{field}__{later}e": value}),
                               Q(**{f"{field}__{later}": value}) | Q(**{f"id__{later}": pk}))
        return rows

    def _nulls(self, queryset, descending, after=None):
        """The rows without a value, by id, after the id `after`; None where the field always has one."""
        if self.name not in NULLABLE:
            return None
        rows = queryset.filter(**{f"{self.field}__isnull": True}).order_by("-id" if descending else "id")
        if after is not None:
            rows = rows.filter(**{"id__lt" if descending else "id__gt": after})
        return rows

class StableCursorPagination(CursorPagination):
    """Cursor pages stay stable while editors insert: a page never repeats or skips a record. Every page says how
    many records match (`count`), and `ordering` sorts by the id or by the fields a view lists in `ordering_fields`."""

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
        orderings = self.orderings(getattr(view, "ordering_fields", ()))
        fields = [name for name in orderings if not name.startswith("-") and name != "id"]
        return parameters + [{
            "name": "ordering", "required": False, "in": "query",
            "description": "Sort order: -id newest first (the default), id oldest first"
                           + "".join(f"; {DESCRIPTIONS[name]}" for name in fields)
                           + (". Ties are broken by id, the same way" if fields else "")
                           + ("; pledges without a value or a date come last either way" if NULLABLE & set(fields)
                              else "") + ".",
            "schema": {"type": "string", "enum": orderings},
        }]

    @staticmethod
    def orderings(fields):
        """The values `ordering` takes on a view whose `ordering_fields` are `fields`: those and the id, each way."""
        return [f"{sign}{name}" for name in ("id", *fields) for sign in ("-", "")]

    def get_ordering(self, request, queryset, view):
        allowed_fields = getattr(view, "ordering_fields", ())
        searched = "relevance" in allowed_fields and request.query_params.get("search")
        value = request.query_params.get("ordering") or ("-relevance" if searched else self.ordering)
        allowed = self.orderings(getattr(view, "ordering_fields", ()))
        if value not in allowed:
            raise ValidationError({"ordering": f"Unknown ordering. Use one of: {', '.join(allowed)} (a leading - "
                                               f"sorts descending; the default is {self.ordering})."})
        return (value,)

    def order_by(self, request, queryset, view):
        """The ORDER BY the request's `ordering` asks for (400 if it is not one of this view's): for downloads,
        which hold every row in the list's order."""
        return SortKey(self.get_ordering(request, queryset, view)[0], queryset).order_by()

    def get_count(self, queryset, request, view):
        """How many records match: exact, counted once per query and state of the data. The count of a million
        pledges takes PostgreSQL ~0.2 s, many times a page's cost, so it is kept (in this worker, then the shared
        cache) under a key holding the data version, as summaries are: a script following `next` pays it once."""
        data_version = getattr(view, "data_version", None)  # ConditionalGetMixin read it for the ETag
        if data_version is None:
            return queryset.count()
        params = sorted((name, values) for name, values in request.query_params.lists()
                        if name not in ("cursor", "page_size", "ordering", "format"))
        audience = "staff" if is_staff_reader(request.user) else "public"
        key = summaries.cache_key(data_version, "api-count", getattr(view, "basename", ""), audience, params)
        return summaries.cached(key, queryset.count)

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, queryset, view)
        self.key = SortKey(self.ordering[0], queryset)
        self.cursor = self.decode_cursor(request)
        reverse = self.cursor is not None and self.cursor.reverse
        position = self.position
        self.count = self.get_count(queryset, request, view)

        results = []
        for rows in self.key.segments(queryset, position, reverse):
            if len(results) > self.page_size:
                break
            results.extend(rows[:self.page_size + 1 - len(results)])
        self.page = results[:self.page_size]
        more = len(results) > self.page_size
        if reverse:
            self.page.reverse()
            self.has_next, self.has_previous = position is not None, more
        else:
            self.has_next, self.has_previous = more, position is not None
        self.display_page_controls = (self.has_previous or self.has_next) and self.template is not None
        return self.page

    def get_next_link(self):
        if not self.has_next:
            return None
        if not self.page:  # nothing before a position going back: the next page is the first
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self.encode_cursor(Cursor(offset=0, reverse=False, position=self.key.position(self.page[-1])))

    def get_previous_link(self):
        if not self.has_previous:
            return None
        if not self.page:  # nothing after a position (all since removed): the page before is the last one
            return self.encode_cursor(Cursor(offset=0, reverse=True, position=None))
        return self.encode_cursor(Cursor(offset=0, reverse=True, position=self.key.position(self.page[0])))

    def get_paginated_response(self, data):
        return Response({"count": self.count, "next": self.get_next_link(), "previous": self.get_previous_link(),
                         "results": data})

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"] = {"count": {
            "type": "integer", "minimum": 0, "example": 123,
            "description": "How many records match the query, on every page (not only this one's)"},
            **schema["properties"]}
        schema["required"] = ["count", "next", "previous", "results"]
        return schema

    def decode_cursor(self, request):
        invalid = ValidationError({"cursor": "Invalid cursor: use the next/previous links as given."})
        self.position = None  # (value, id), read from the cursor
        if request.query_params.get(self.cursor_query_param) == "":
            return None  # left empty: the first page
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise invalid from None
        if cursor is None:
            return None
        # A cursor is only base64 of "o=&r=&p=": a forged one could hold anything. This API's links hold a position
        # the request's ordering writes (or, going back from the end, none) and never an offset.
        if cursor.offset or (cursor.position is None and not cursor.reverse):
            raise invalid
        try:
            value = None if cursor.position is None else self.key.parse(cursor.position)
        except (ValueError, OverflowError):
            raise invalid from None
        self.position = value
        return cursor
