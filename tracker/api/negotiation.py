from django.http import Http404
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    """An unknown ?format= is a bad parameter value (400 naming it), not a missing page (DRF's 404)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except (Http404, NotFound):
            formats = ", ".join(sorted({r.format for r in renderers}))
            raise ValidationError({"format": f"Unknown format. Use one of: {formats}."}) from None
