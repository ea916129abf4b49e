"""OpenAPI additions: the error statuses the API's shared machinery can answer with, on every operation,
and the token authentication scheme."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension

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
PRECONDITIONS = {
    "412": "If-Match does not match the record's current ETag",
    "428": "If-Match header missing",
}


def add_error_responses(result, generator, request, public):
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
            responses = operation.setdefault("responses", {})
            for code, description in wanted.items():
                responses.setdefault(code, {"description": description, "content": ERROR_BODY})
                if code in responses and "content" not in responses[code]:
                    responses[code]["content"] = ERROR_BODY
    return result


class TokenScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Token <key>` (tracker.api.authentication.TokenAuthentication)."""

    target_class = "tracker.api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <key>`; issue keys with `manage.py api_token issue USERNAME --name ...`"}
