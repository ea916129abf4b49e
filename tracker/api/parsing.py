import orjson
from django.conf import settings
from rest_framework import parsers, renderers
from rest_framework.exceptions import ParseError, ValidationError

from .errors import PayloadTooLarge


class JSONParser(parsers.BaseParser):
    """Strict JSON: NaN and Infinity, bad UTF-8 and integers beyond 64 bits are refused; so are large bodies."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = settings.API_MAX_BODY_BYTES
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        if length and length.isdigit() and int(length) > limit:
            raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"Malformed JSON: {exc}") from None
        problems = {}
        _check(data, "", 0, problems)
        if problems:
            raise ValidationError(problems)
        return data


MAX_DEPTH = 16  # no field of this API nests deeper than a list in an object


def _check(value, path, depth, problems):
    """Strings holding a NUL (no database stores it) and values nested deeper than any field can be, by field."""
    name = path or "non_field_errors"
    if depth > MAX_DEPTH:
        problems.setdefault(name.split(".")[0], ["Nested too deeply."])
        return
    if isinstance(value, str):
        if "\x00" in value:
            problems.setdefault(name.split(".")[0], ["Contains a NUL character."])
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(item, f"{path}.{key}" if path else str(key), depth + 1, problems)
    elif isinstance(value, list):
        for item in value:
            _check(item, path, depth + 1, problems)


def _default(value):
    # Decimals go out as strings so no precision is lost; lazy translations and the like as text.
    return str(value)


class JSONRenderer(renderers.JSONRenderer):
    """orjson, compact; indented by two spaces when an indent is asked for: by the browsable API (its renderer
    context says indent=4) or by a client (`Accept: application/json; indent=4`). orjson indents by 2 only."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        option = orjson.OPT_NON_STR_KEYS
        if self.get_indent(accepted_media_type or "", renderer_context or {}):
            option |= orjson.OPT_INDENT_2
        return orjson.dumps(data, default=_default, option=option)
