"""Every bad request becomes a 4xx naming the field, never a 500."""
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import exceptions, status
from rest_framework.response import Response


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_detail = "This write needs an If-Match header with the record's current ETag (GET it first)."
    default_code = "precondition_required"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The record changed since you read it (If-Match does not match its ETag). GET it again."
    default_code = "precondition_failed"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


def exception_handler(exc, context):
    # Imported here: rest_framework.views loads the renderers in settings, and ours import this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, IntegrityError):
        # The database refused what validation let through (a constraint, a race): say so, keep the data.
        response = Response({"non_field_errors": ["The database refused this change: " + str(exc).splitlines()[0]]},
                            status=status.HTTP_409_CONFLICT)
    else:
        response = drf_exception_handler(exc, context)
    request = context.get("request")
    if response is not None and request is not None:
        # Errors are JSON whatever format was asked for: a CSV of an error message helps nobody.
        from .parsing import JSONRenderer

        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
    return response
