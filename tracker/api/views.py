"""API v1 resources. Reads are public (published data only); writes need an editor and go through services."""
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from tracker.commitments import selectors, services
from tracker.commitments.imports import template
from tracker.commitments.models import Coalition, Membership, Nation, NationFigures, Objective, Source

from . import filters, serializers
from .conditional import ConditionalGetMixin, check_if_match
from .exports import attach_filename
from .pagination import StableCursorPagination
from .permissions import CanPublish, ReadOrEditorWrite, is_staff_reader

WRITE_ERRORS = {400: OpenApiResponse(description="Invalid field values, named per field"),
                401: OpenApiResponse(description="Not authenticated"),
                403: OpenApiResponse(description="Not an editor"),
                409: OpenApiResponse(description="The database refused the change (a constraint)"),
                413: OpenApiResponse(description="Body too large"),
                415: OpenApiResponse(description="Unsupported content type")}
UPDATE_ERRORS = {**WRITE_ERRORS, 404: OpenApiResponse(description="No such record"),
                 412: OpenApiResponse(description="If-Match does not match the record's ETag"),
                 428: OpenApiResponse(description="If-Match header missing")}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
READ_ERRORS = {400: OpenApiResponse(description="Unknown query parameter or bad value, named")}
IF_MATCH = OpenApiParameter("If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                            description="The record's current ETag (its `version`)")


class BaseViewSet(ConditionalGetMixin, viewsets.GenericViewSet):
    permission_classes = [ReadOrEditorWrite]
    ordering_fields = ("updated_at",)  # `ordering` takes these (either way) and the id: pagination.py
    lookup_value_regex = r"[0-9]{1,18}"  # anything else is an unknown path: a JSON 404, never a bad query

    def staff(self):
        return is_staff_reader(self.request.user)

    def get_object(self):
        instance = super().get_object()
        if self.request.method in ("GET", "HEAD"):
            self.not_modified_for_record(self.request, instance)
        return instance

    def export_name(self):
        return self.basename


class AuditedModelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                          mixins.UpdateModelMixin, BaseViewSet):
    """Plain records: anyone reads, editors create and update (with If-Match), nobody deletes here."""

    http_method_names = ["get", "head", "options", "post", "patch", "put"]

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        return attach_filename(response, self.export_name(), request.query_params.get("format"))

    def perform_update(self, serializer):
        with transaction.atomic():
            locked = type(serializer.instance).objects.select_for_update().get(pk=serializer.instance.pk)
            check_if_match(self.request, locked)
            serializer.save()

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method in ("POST", "PUT", "PATCH") and response.status_code in (200, 201) \
                and isinstance(response.data, dict) and "version" in response.data:
            response["ETag"] = response.data["version"]
        return response


def _documented(serializer_class):
    """The standard responses of an AuditedModelViewSet, with `serializer_class` as the body."""
    def with_body(schema_kwargs, code):
        responses = dict(schema_kwargs["responses"])
        responses[code] = serializer_class
        return extend_schema(**{**schema_kwargs, "responses": responses})

    return extend_schema_view(
        list=with_body({"responses": READ_ERRORS}, 200),
        retrieve=with_body({"responses": {404: OpenApiResponse(description="No such record")}}, 200),
        create=with_body({"responses": WRITE_ERRORS}, 201),
        update=with_body({"parameters": [IF_MATCH], "responses": UPDATE_ERRORS}, 200),
        partial_update=with_body({"parameters": [IF_MATCH], "responses": UPDATE_ERRORS}, 200),
    )


@_documented(serializers.CoalitionSerializer)
class CoalitionViewSet(AuditedModelViewSet):
    queryset = Coalition.objects.order_by("id")
    serializer_class = serializers.CoalitionSerializer
    filterset_class = filters.ChangedSinceFilter
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]{1,100}"


@_documented(serializers.NationSerializer)
class NationViewSet(AuditedModelViewSet):
    serializer_class = serializers.NationSerializer
    filterset_class = filters.ChangedSinceFilter
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]{1,100}"

    def get_queryset(self):
        nations = Nation.objects.all() if self.staff() else selectors.public_nations()
        return nations.order_by("id").prefetch_related(
            Prefetch("figures", queryset=NationFigures.objects.order_by("-year")))


@_documented(serializers.MembershipSerializer)
class MembershipViewSet(AuditedModelViewSet):
    serializer_class = serializers.MembershipSerializer
    filterset_class = filters.MembershipFilter

    def get_queryset(self):
        memberships = Membership.objects.select_related("coalition", "nation").order_by("id")
        return memberships if self.staff() else memberships.filter(is_disclosed=True)


@_documented(serializers.ObjectiveSerializer)
class ObjectiveViewSet(AuditedModelViewSet):
    serializer_class = serializers.ObjectiveSerializer
    filterset_class = filters.ObjectiveFilter

    def get_queryset(self):
        objectives = Objective.objects.all() if self.staff() else selectors.public_objectives()
        return objectives.select_related("coalition").prefetch_related("lead_nations").order_by("id")


@_documented(serializers.SourceSerializer)
class SourceViewSet(AuditedModelViewSet):
    serializer_class = serializers.SourceSerializer
    filterset_class = filters.SourceFilter

    def get_queryset(self):
        # Readers see a source once something they can see rests on it.
        return (Source.objects.all() if self.staff() else selectors.public_sources()).order_by("id")


PLEDGE_LIST_PARAMS = [OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv", "xlsx"],
                                       description="csv or xlsx: every matching pledge as a download, in the "
                                                   "import template's columns (the same file as export/)")]


@extend_schema_view(
    list=extend_schema(parameters=PLEDGE_LIST_PARAMS, responses={
        (200, "application/json"): serializers.PledgeSerializer(many=True), (200, "text/csv"): OpenApiTypes.STR,
        (200, XLSX): OpenApiTypes.BINARY, **READ_ERRORS}),
    retrieve=extend_schema(parameters=[OpenApiParameter("as_of", OpenApiTypes.DATE)],
                           responses={200: serializers.PledgeSerializer, **READ_ERRORS,
                                      404: OpenApiResponse(description="No such published pledge")}),
    create=extend_schema(request=serializers.PledgeWriteSerializer,
                         responses={201: serializers.PledgeSerializer, **WRITE_ERRORS}),
    partial_update=extend_schema(request=serializers.PledgeWriteSerializer, parameters=[IF_MATCH],
                                 responses={200: serializers.PledgeSerializer, **UPDATE_ERRORS}),
)
class PledgeViewSet(mixins.CreateModelMixin, BaseViewSet):
    """Pledges with their status events. Readers see published pledges only; editors see drafts too."""

    filterset_class = filters.PledgeFilter
    http_method_names = ["get", "head", "options", "post", "patch"]
    ordering_fields = ("eur_value", "announced_on", "updated_at", "relevance")

    def get_queryset(self):
        pledges = selectors.visible_pledges(self.request.user)
        if self.as_of() is None and not set(self.request.query_params) & filters.PledgeFilter.STATE_FILTERS:
            return pledges  # today's state is every pledge's open period: nothing to join to choose a page
        return selectors.with_state(pledges, self.as_of())

    def as_of(self):
        if not hasattr(self, "_as_of"):
            self._as_of = filters.parse_as_of(self.request.query_params)
        return self._as_of

    def filter_queryset(self, queryset):
        # Most reads (dashboards, scripts paging through everything) filter nothing: skip building a filterset.
        if set(self.request.query_params) <= filters.StrictFilterSet.always_allowed:
            return queryset
        return super().filter_queryset(queryset)

    def get_serializer_class(self):
        return serializers.PledgeWriteSerializer if self.request.method in ("POST", "PATCH") \
            else serializers.PledgeSerializer

    def list(self, request, *args, **kwargs):
        pledges = self.filter_queryset(self.get_queryset())
        if request.accepted_renderer.format in ("csv", "xlsx"):
            self.paginator.get_page_size(request)  # a download holds every page, but a bad page_size is still a 400
            return self._download(pledges, request.accepted_renderer.format, "pledges")
        # The page is chosen on ids alone; the rows are then read in bulk by pledge_representations.
        page = self.paginator.paginate_queryset(pledges.values("id"), request, view=self)
        rows = selectors.pledge_representations([row["id"] for row in page], self.as_of())
        return self.paginator.get_paginated_response(rows)

    @extend_schema(
        filters=True,
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=["csv", "xlsx"],
                                     description="csv (default) or xlsx"),
                    OpenApiParameter("ordering", OpenApiTypes.STR, enum=StableCursorPagination.orderings(
                        ordering_fields), description="Row order, as on the list (default -id: newest first)")],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, XLSX): OpenApiTypes.BINARY, **READ_ERRORS})
    @action(detail=False, methods=["get"], url_path="export")
    def export(self, request):
        """Every matching pledge in the import template's columns: what `manage.py import_pledges` and the
        admin's import read back. The same file as the list's `?format=csv` (or xlsx): the same filters, `as_of`
        and `ordering`."""
        fmt = "xlsx" if request.query_params.get("format") == "xlsx" else "csv"
        return self._download(self.filter_queryset(self.get_queryset()), fmt, "pledges-template")

    def _download(self, pledges, fmt, name):
        """The one flat pledge file: the import template's columns (source URLs or titles, objective titles, the
        latest status with its source), every matching pledge in the list's order."""
        ordering = self.paginator.order_by(self.request, pledges, self)
        content = template.export_file(pledges, fmt, as_of=self.as_of(), ordering=ordering)
        response = HttpResponse(content, content_type=XLSX if fmt == "xlsx" else "text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
        return response

    def retrieve(self, request, pk=None):
        try:
            filters.check_record_query(request.query_params)
        except filters.InvalidQuery as error:
            raise ValidationError(error.errors) from None
        pledge = get_object_or_404(self.get_queryset(), pk=pk)
        self.not_modified_for_record(request, pledge)
        return Response(self._representation(pledge.pk))

    def _representation(self, pk):
        return selectors.pledge_representations([pk], self.as_of())[0]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pledge = serializer.save()
        return self._written(pledge, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        with services.one_history_entry():  # the transaction, and the one history entry of this save
            pledge = get_object_or_404(self.get_queryset().select_for_update(of=("self",)), pk=pk)
            check_if_match(request, pledge)
            serializer = self.get_serializer(pledge, data=request.data, partial=True)
            serializer.is_valid(raise_exception=True)
            pledge = serializer.save()
        return self._written(pledge)

    def _written(self, pledge, code=status.HTTP_200_OK):
        representation = self._representation(pledge.pk)
        response = Response(representation, status=code)
        response["ETag"] = representation["version"]
        return response

    @extend_schema(request=serializers.StatusEventWriteSerializer, parameters=[IF_MATCH],
                   responses={201: serializers.PledgeSerializer, **UPDATE_ERRORS})
    @action(detail=True, methods=["post"], url_path="status-events")
    def status_events(self, request, pk=None):
        """Record a dated status step, citing its source; the pledge's status follows its latest step."""
        with transaction.atomic():
            pledge = get_object_or_404(self.get_queryset().select_for_update(of=("self",)), pk=pk)
            check_if_match(request, pledge)
            serializer = serializers.StatusEventWriteSerializer(data=request.data, context={"request": request})
            serializer.is_valid(raise_exception=True)
            step = dict(serializer.validated_data)
            reason = step.pop("change_reason", "")
            services.record_status_event(pledge, user=request.user, reason=reason, **step)
        return self._written(pledge, status.HTTP_201_CREATED)

    @extend_schema(request=None, parameters=[IF_MATCH],
                   responses={200: serializers.PledgeSerializer, **UPDATE_ERRORS})
    @action(detail=True, methods=["post"], permission_classes=[CanPublish])
    def publish(self, request, pk=None):
        """Reviewers only: make the pledge visible to readers (it must cite a source)."""
        return self._review(request, pk, services.publish_pledge)

    @extend_schema(request=None, parameters=[IF_MATCH],
                   responses={200: serializers.PledgeSerializer, **UPDATE_ERRORS})
    @action(detail=True, methods=["post"], permission_classes=[CanPublish])
    def unpublish(self, request, pk=None):
        """Reviewers only: take the pledge back to draft."""
        return self._review(request, pk, services.unpublish_pledge)

    def _review(self, request, pk, service):
        with transaction.atomic():
            pledge = get_object_or_404(self.get_queryset().select_for_update(of=("self",)), pk=pk)
            check_if_match(request, pledge)
            service(pledge, user=request.user)
        return self._written(pledge)
