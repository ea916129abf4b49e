"""OpenAPI additions, for what the views' own declarations cannot say: the error statuses the API's shared machinery
can answer with, on every operation; reads that need no authentication; query parameters that may be left empty;
the shape of If-Match and of stages; and the change reason that every update needs."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes

from tracker.commitments.filters import STAGE_LIST
from tracker.commitments.models import EARLIEST_DATE, LATEST_DATE, NationKind
from tracker.commitments.valuation import known_currencies

from .conditional import IF_MATCH
from .serializers import decimal_pattern

# JSON Schema cannot bound a date; a pattern on the year can (the tracker records 1900 to 2100).
assert (EARLIEST_DATE.year, LATEST_DATE.year) == (1900, 2100)
DATE_IN_RANGE = r"^(?:19[0-9]{2}|20[0-9]{2}|2100)-"

ERROR_BODY = {"application/json": {"schema": {"type": "object", "additionalProperties": True,
                                               "description": "Field (or parameter) name to messages, or detail"}}}
COMMON = {
    "400": "A bad query parameter or field value; the body names it",
    "429": "Too many anonymous requests; see Retry-After",
}
WRITES = {
    "401": "Not authenticated",
    "403": "Not allowed (editors write; reviewers publish)",
    "409": "The database refused the change (a constraint)",
    "413": "Request body too large",
    "415": "Unsupported content type (send application/json)",
}
ON_RECORD = {"404": "No such record (or not visible to you)"}
PARAMETER_SCHEMAS = {
    "If-Match": {"type": "string", "pattern": IF_MATCH},
    "stage": {"type": "string", "pattern": STAGE_LIST},
}
CHANGE_REASON = {"type": "object", "required": ["change_reason"], "properties": {
    "change_reason": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"\S"}}}
PRECONDITIONS = {
    "412": "If-Match does not match the record's current ETag",
    "428": "If-Match header missing",
}


def document_operations(result, generator, request, public):
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            component["additionalProperties"] = False  # a field that is not listed is refused, named
        if not name.endswith("Request"):
            continue
        for field, schema in component.get("properties", {}).items():
            if field == "currency":
                schema["enum"] = ["", *sorted(known_currencies())]  # ISO 4217 codes with ECB rates; "" for none
            elif schema.get("type") == "string" and schema.get("minLength") and not (
                    {"pattern", "format", "enum"} & set(schema)):
                schema["pattern"] = r"\S"  # text is trimmed: spaces alone are blank
        if name == "SourceRequest":  # a URL or a publisher
            component["anyOf"] = [{"required": ["url"], "properties": {"url": {"minLength": 1}}},
                                  {"required": ["publisher"], "properties": {"publisher": {"pattern": r"\S"}}}]
        if name == "NationRequest":  # a state needs its country code; other kinds may have none
            component["anyOf"] = [
                {"required": ["country"], "properties": {"country": {"type": "string"}}},
                {"required": ["kind"], "properties": {"kind": {"enum": [kind for kind in NationKind.values
                                                                        if kind != NationKind.STATE]}}},
            ]
    _bound_dates(result)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            wanted = dict(COMMON)
            if method != "get":
                wanted.update(WRITES)
            if "{" in path:
                wanted.update(ON_RECORD)
                if method != "get":
                    wanted.update(PRECONDITIONS)
            if method == "get" and {} not in operation.get("security", [{}]):
                # Anyone reads (published records); an editor's token or session only adds drafts.
                operation["security"] = [{}, *operation["security"]]
            for parameter in operation.get("parameters", []):
                if parameter["name"] in PARAMETER_SCHEMAS:
                    parameter["schema"] = PARAMETER_SCHEMAS[parameter["name"]]
                if parameter["in"] == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True  # left empty, as a form leaves a field: not given
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if method in ("put", "patch") and body and _has_property(result, body["schema"], "change_reason"):
                body["schema"] = {"allOf": [body["schema"], CHANGE_REASON]}  # optional when creating only
                operation["requestBody"]["required"] = True
            responses = operation.setdefault("responses", {})
            for code, description in wanted.items():
                responses.setdefault(code, {"description": description, "content": ERROR_BODY})
                if code in responses and "content" not in responses[code]:
                    responses[code]["content"] = ERROR_BODY
    return result


def _bound_dates(value):
    if isinstance(value, dict):
        if value.get("format") == "date":
            value["pattern"] = DATE_IN_RANGE
        for item in value.values():
            _bound_dates(item)
    elif isinstance(value, list):
        for item in value:
            _bound_dates(item)


def _has_property(document, schema, name):
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return name in schema.get("properties", {})


class DecimalScheme(OpenApiSerializerFieldExtension):
    """Decimals are strings of digits (serializers.decimal_pattern), as the API writes and reads them."""

    target_class = "rest_framework.serializers.DecimalField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        return {**build_basic_type(OpenApiTypes.STR), "format": "decimal", "pattern": decimal_pattern(self.target)}


class TokenScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Token <key>` (tracker.api.authentication.TokenAuthentication)."""

    target_class = "tracker.api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <key>`; issue keys with `manage.py api_token issue USERNAME --name ...`"}
