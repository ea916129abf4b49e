"""The editors' admin. Every save goes through services, so admin edits are validated and kept in history
with their author, reason and cited source, exactly like API and import writes.
"""
import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from . import admin_imports, history, services
from .models import (
    Coalition,
    ItemDelivery,
    Membership,
    Nation,
    NationFigures,
    Objective,
    Pledge,
    PledgeItem,
    Release,
    Source,
    Status,
    StatusEvent,
    validate_date_in_range,
    validate_not_after_today,
)

admin.site.site_header = "Coalition commitment tracker: editors"
admin.site.site_title = "Commitment tracker admin"
admin.site.index_title = "Pledges, sources and coalitions"


def source_autocomplete():
    """A search-as-you-type source picker for forms that are not bound to a source field of their own."""
    return AutocompleteSelect(StatusEvent._meta.get_field("source"), admin.site)


NOTE_FIELDS = ["change_reason", "change_source", "figures_effective_on"]


class ChangeNoteForm(forms.ModelForm):
    """Adds the "why, and on what evidence" of a change; both go into the record's history. The page shows them
    last, next to Save (change_form.html)."""

    change_reason = forms.CharField(
        max_length=100, required=False, label="Reason for this change",
        help_text="Kept in the history with your name, e.g. “New figure from the ministry's statement”.",
        error_messages={"required": "Say why you are making this change: the history keeps it with your name."},
    )
    change_source = forms.ModelChoiceField(
        queryset=Source.objects.all(), required=False, label="Source for this change", widget=source_autocomplete(),
        help_text="The document this change rests on, if any.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["change_reason"].required = True


class TypedAmountField(forms.DecimalField):
    """An amount as people type it: "150000000", "150,000,000" or "150 000 000.50". A comma or a point that could be
    either a thousands separator or a decimal mark ("1,5", "1.500.000") is refused with an example."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
    GROUPED = re.compile(r"[0-9]{1,3}(?:([,\u00a0\u202f ])[0-9]{3})?(?:\1[0-9]{3})*(?:\.[0-9]+)?")

    def to_python(self, value):
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, str) and text:
            plain = re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", text)
            if not plain and not self.GROUPED.fullmatch(text):
                raise ValidationError(
                    "Type the amount with a decimal point and, if you like, commas or spaces between thousands, "
                    "e.g. 150,000,000 or 1,250,000.50.", code="ambiguous")
            text = re.sub(r"[,\u00a0\u202f ]", "", text)
        return super().to_python(text)

    def widget_attrs(self, widget):
        return {}  # a text box: no number-input limits, which would refuse the separators


class PledgeForm(ChangeNoteForm):
    """A pledge's change note also says from when changed figures count, for the figures "as of" past dates.
    Amounts take thousands separators; currency codes any case."""

    amount = TypedAmountField(required=False, max_digits=18, decimal_places=2, min_value=0,
                              help_text="In the currency given, e.g. 150,000,000.")

    figures_effective_on = forms.DateField(
        required=False, label="Changed figures count from", widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_date_in_range, validate_not_after_today],
        help_text="When a change of amount, quantity or conditionality took effect. Empty: today. A correction of a "
                  "wrong figure takes effect from the announcement.")

    def clean_currency(self):
        return (self.cleaned_data.get("currency") or "").strip().upper()


class AuditedAdmin(SimpleHistoryAdmin):
    form = ChangeNoteForm

    class Media:
        css = {"all": ["commitments/admin.css"]}

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    change_form_template = "admin/commitments/change_form.html"
    object_history_template = "admin/commitments/object_history.html"
    object_history_form_template = "admin/commitments/object_history_form.html"
    object_history_list_template = "admin/commitments/object_history_list.html"

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data.get("change_reason") or ("Changed" if change else "Created")
        services.save_record(obj, user=request.user, reason=reason, source=form.cleaned_data.get("change_source"))

    def get_fieldsets(self, request, obj=None):
        """The change note is left out here: the page shows it after the inlines, next to Save."""
        return [(name, {**options, "fields": [f for f in options["fields"] if f not in NOTE_FIELDS]})
                for name, options in super().get_fieldsets(request, obj)
                if [f for f in options["fields"] if f not in NOTE_FIELDS]]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The record, its links and the rows of its inlines are one save: one history entry.
        with transaction.atomic(), services.one_history_entry():
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        return super().get_history_queryset(request, history_manager, pk_name, object_id).select_related(
            "history_source", "history_user")

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        history.describe(historical_records)

    def revert_disabled(self, request, obj=None):
        return not services.can_publish(request.user)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """A past version, to save again as the current one: reviewers only, and the revert is its own entry."""
        if self.revert_disabled(request):
            raise PermissionDenied("Only reviewers may revert a record to an earlier version.")
        with transaction.atomic(), services.one_history_entry():
            return super().history_form_view(request, object_id, version_id, extra_context)


def titled(title, base=admin.BooleanFieldListFilter):
    """A list filter headed "By <title>", as a person would say it, rather than by the field's name."""

    class Titled(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title

    return Titled


EXAMPLE_FILTER = ("is_example", titled("example data"))


class ExampleMarkMixin:
    @admin.display(description="Example data", boolean=True, ordering="is_example")
    def example(self, obj):
        return obj.is_example


@admin.register(Coalition)
class CoalitionAdmin(ExampleMarkMixin, AuditedAdmin):
    list_display = ["name", "announced_on", "example"]
    search_fields = ["name", "description"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Nation)
class NationAdmin(ExampleMarkMixin, AuditedAdmin):
    list_display = ["name", "country", "kind", "is_pass_through", "example"]
    list_filter = ["kind", ("is_pass_through", titled("pass-through")), EXAMPLE_FILTER]
    search_fields = ["name", "country"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(NationFigures)
class NationFiguresAdmin(AuditedAdmin):
    """GDP and population per nation and year, behind the 'share of GDP' and 'per capita' summaries."""

    list_display = ["nation", "year", "gdp_eur", "population", "source"]
    list_filter = ["year"]
    list_select_related = ["nation", "source"]
    search_fields = ["nation__name"]
    autocomplete_fields = ["nation", "source"]


@admin.register(Source)
class SourceAdmin(ExampleMarkMixin, AuditedAdmin):
    list_display = ["title", "publisher", "published_on", "kind", "is_official", "link", "example"]
    list_filter = ["kind", ("is_official", titled("official source")), EXAMPLE_FILTER]
    search_fields = ["title", "publisher", "url"]
    date_hierarchy = "published_on"

    @admin.display(description="URL")
    def link(self, obj):
        return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', obj.url, "open") if obj.url else "—"


@admin.register(Membership)
class MembershipAdmin(ExampleMarkMixin, AuditedAdmin):
    list_display = ["nation", "coalition", "role", "started_on", "ended_on", "is_disclosed", "example"]
    list_filter = ["coalition", "role", ("is_disclosed", titled("disclosed")), EXAMPLE_FILTER]
    list_select_related = ["nation", "coalition"]
    search_fields = ["nation__name", "coalition__name", "note"]
    autocomplete_fields = ["coalition", "nation", "source"]


@admin.register(Objective)
class ObjectiveAdmin(AuditedAdmin):
    list_display = ["title", "coalition", "capability_area", "target_quantity", "target_unit", "target_eur",
                    "deadline"]
    list_filter = ["coalition", "capability_area"]
    list_select_related = ["coalition"]
    search_fields = ["title", "description"]
    autocomplete_fields = ["coalition", "lead_nations"]
    prepopulated_fields = {"slug": ["title"]}


class RecordedRowsInline(admin.TabularInline):
    """Existing rows, shown read-only (with delete) so the page makes no query per row: an editable
    autocomplete widget looks up its selected option once per row. New rows go in an AddingRowsInline."""

    extra = 0

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False



class AddingRowsInline(admin.TabularInline):
    """Blank rows for adding to a pledge; existing rows are listed by the matching RecordedRowsInline."""

    extra = 1

    def get_queryset(self, request):
        return super().get_queryset(request).none()

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)


class StatusEventInline(RecordedRowsInline):
    model = StatusEvent
    fields = ["status", "occurred_on", "source", "delivered_quantity", "delivered_eur", "note", "recorded_by"]
    ordering = ["occurred_on", "id"]
    verbose_name_plural = "status timeline (edit a step from its own page under Status events)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("source", "recorded_by")


class AddStatusEventInline(AddingRowsInline):
    """A form that stacks, so the page fits a 1280 px screen (and a tablet) without sideways scrolling."""

    template = "admin/edit_inline/stacked.html"
    model = StatusEvent
    fields = [("status", "occurred_on"), "source", ("delivered_quantity", "delivered_eur"), "note"]
    autocomplete_fields = ["source"]
    verbose_name = "status event"
    verbose_name_plural = "record a new status event"


# A cited source's row shows the source; the link itself needs no caption ("Pledge_sources object (14)").
Pledge.sources.through.__str__ = lambda link: ""


class PledgeSourceInline(RecordedRowsInline):
    model = Pledge.sources.through
    fields = ["source"]
    verbose_name = "source"
    verbose_name_plural = "sources cited (at least one before publishing)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("source")


class AddPledgeSourceInline(AddingRowsInline):
    model = Pledge.sources.through
    fields = ["source"]
    autocomplete_fields = ["source"]
    verbose_name = "source"
    verbose_name_plural = "cite another source"


class PledgeItemInline(admin.StackedInline):
    """Equipment and goods in the pledge: units pledged (or undisclosed) and unit price. Units delivered are
    reported by status events (each event's own page)."""

    model = PledgeItem
    fields = ["name", ("item_type", "sub_type"), ("quantity", "quantity_undisclosed"),
              ("unit_price", "unit_price_currency")]
    extra = 0
    verbose_name = "item"
    verbose_name_plural = "items (equipment and goods)"


class ItemDeliveryInline(admin.TabularInline):
    """Units of the pledge's items this event reports delivered, in total by its date."""

    model = ItemDelivery
    fields = ["item", "quantity", "quantity_undisclosed"]
    extra = 0
    verbose_name = "items delivered"
    verbose_name_plural = "items delivered by this date (in total)"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "item":
            event_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            pledge = StatusEvent.objects.filter(pk=event_id).values_list("pledge_id", flat=True).first() \
                if event_id and str(event_id).isdigit() else None
            kwargs["queryset"] = PledgeItem.objects.filter(pledge_id=pledge) if pledge else PledgeItem.objects.none()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class RecordStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Status.choices)
    occurred_on = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.ModelChoiceField(queryset=Source.objects.all(), widget=source_autocomplete())
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


@admin.register(Pledge)
class PledgeAdmin(ExampleMarkMixin, AuditedAdmin):
    form = PledgeForm
    list_display = ["short_description", "nation", "amount_display", "status", "conditional", "publication"]
    list_display_links = ["short_description"]
    list_filter = ["coalition", "nation", "objectives", "kind", "status", "publication",
                   ("is_conditional", titled("conditionality")), "valuation_basis", "disclosure", EXAMPLE_FILTER]
    list_select_related = ["nation"]
    search_fields = ["nation__name", "description", "sources__title", "sources__url", "sources__publisher"]
    autocomplete_fields = ["coalition", "nation", "objectives"]
    date_hierarchy = "announced_on"
    inlines = [PledgeSourceInline, AddPledgeSourceInline, PledgeItemInline, StatusEventInline, AddStatusEventInline]
    readonly_fields = ["status", "delivered_quantity", "delivered_eur_display", "eur_value_display", "eur_rate",
                       "eur_rate_date",
                       "publication", "published_at", "published_by"]
    actions = ["publish_selected", "unpublish_selected", "record_status_for_selected", "export_csv", "export_xlsx"]
    fieldsets = [
        (None, {"fields": ["coalition", "nation", "kind", "description", "objectives", "is_example"]}),
        ("Quantity", {"fields": [("quantity", "unit"), "quantity_undisclosed"]}),
        ("Value", {
            "fields": [("amount", "currency"), "valuation_basis", ("eur_value_display", "eur_rate", "eur_rate_date"),
                       "source_eur_value"],
            "description": "The EUR value is computed from the ECB reference rate of the announcement date "
                           "(or the nearest earlier business day).",
        }),
        ("Terms", {"fields": [("announced_on", "announced_precision"), ("earmarked_from", "earmarked_to"),
                              "is_conditional", "condition", "disclosure"]}),
        ("State (from status events and review)", {
            "fields": [("status", "delivered_quantity", "delivered_eur_display"),
                       ("publication", "published_at", "published_by")],
        }),
    ]

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data.get("change_reason") or ("Changed" if change else "Created")
        services.save_record(obj, user=request.user, reason=reason, source=form.cleaned_data.get("change_source"),
                             effective_on=form.cleaned_data.get("figures_effective_on"))

    def get_search_results(self, request, queryset, search_term):
        """Full-text search by the rule the reader pages and the API follow (commitments/search.py): every word, in
        the description, condition, status notes, contributor or cited sources' titles; best matches first unless
        a column is sorted. Typing in an autocomplete also finds the words the last one begins."""
        from django.contrib.admin.views.main import ORDER_VAR

        from .search import by_rank, search_pledges

        if not search_term.strip():
            return queryset, False
        typing = getattr(request.resolver_match, "url_name", None) == "autocomplete"
        found = search_pledges(queryset, search_term, prefix=typing)
        if not request.GET.get(ORDER_VAR):
            found = by_rank(found, *(queryset.query.order_by or self.model._meta.ordering))
        return found, False  # one row per pledge: nothing to make distinct

    def get_inline_instances(self, request, obj=None):
        # A pledge being added has no recorded rows yet: leave those empty tables off the page.
        return [inline for inline in super().get_inline_instances(request, obj)
                if obj is not None or not isinstance(inline, RecordedRowsInline)]

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(lambda request: admin_imports.import_view(self, request)),
                 name="commitments_pledge_import"),
            path("template.<str:fmt>", wrap(lambda request, fmt: admin_imports.blank_template_view(
                self, request, fmt if fmt in ("csv", "xlsx") else "csv")), name="commitments_pledge_template"),
            *super().get_urls(),
        ]

    @admin.action(description="Export selected pledges (template CSV)", permissions=["view"])
    def export_csv(self, request, queryset):
        return admin_imports.export(queryset, "csv")

    @admin.action(description="Export selected pledges (template XLSX)", permissions=["view"])
    def export_xlsx(self, request, queryset):
        return admin_imports.export(queryset, "xlsx")

    @admin.display(description="Description", ordering="description")
    def short_description(self, obj):
        return obj.description if len(obj.description) <= 80 else obj.description[:79] + "…"

    @admin.display(description="Conditional", boolean=True, ordering="is_conditional")
    def conditional(self, obj):
        return obj.is_conditional

    @admin.display(description="Value (EUR)")
    def eur_value_display(self, obj):
        return "—" if obj.eur_value is None else f"{obj.eur_value:,.2f} EUR"

    @admin.display(description="Delivered (EUR)")
    def delivered_eur_display(self, obj):
        return "—" if obj.delivered_eur is None else f"{obj.delivered_eur:,.2f} EUR"

    @admin.display(description="Amount", ordering="eur_value")
    def amount_display(self, obj):
        if obj.amount is None:
            return "—"
        if obj.currency == "EUR" or obj.eur_value is None:
            return f"{obj.amount:,.0f} {obj.currency}"
        return format_html("{} {}<br><small>≈ {} EUR</small>", f"{obj.amount:,.0f}", obj.currency,
                           f"{obj.eur_value:,.0f}")

    def save_formset(self, request, form, formset, change):
        """Sources and status events are saved through services, so history records them and the
        pledge's current status follows its events."""
        reason = form.cleaned_data.get("change_reason") or ("Changed" if change else "Created")
        if formset.model is Pledge.sources.through:
            # Saving through-table rows directly would bypass the history; set the pledge's sources instead.
            formset.save(commit=False)
            pledge = form.instance
            current = set(pledge.sources.values_list("pk", flat=True))
            wanted = (current - {row.source_id for row in formset.deleted_objects}) | {
                row.source_id for row in formset.new_objects}
            if wanted != current:
                services.set_related(pledge, "sources", wanted, user=request.user, reason=reason,
                                     source=form.cleaned_data.get("change_source"))
            return None
        if formset.model is PledgeItem:
            items = formset.save(commit=False)
            for item in formset.deleted_objects:
                services.delete_record(item, user=request.user, reason=reason)
            for item in items:
                services.save_record(item, user=request.user, reason=reason,
                                     source=form.cleaned_data.get("change_source"))
            return None
        if formset.model is not StatusEvent:
            return super().save_formset(request, form, formset, change)
        events = formset.save(commit=False)
        for event in formset.deleted_objects:
            services.delete_status_event(event, user=request.user)
        for event in events:
            services.save_status_event(event, user=request.user, reason=reason)

    def has_publish_permission(self, request):
        return services.can_publish(request.user)

    @admin.action(description="Publish selected pledges", permissions=["publish"])
    def publish_selected(self, request, queryset):
        self._publish_or_unpublish(request, queryset, services.publish_pledge, "published")

    @admin.action(description="Unpublish selected pledges (back to draft)", permissions=["publish"])
    def unpublish_selected(self, request, queryset):
        self._publish_or_unpublish(request, queryset, services.unpublish_pledge, "unpublished")

    def _publish_or_unpublish(self, request, queryset, service, verb):
        done, refused = 0, []
        for pledge in queryset.select_related("nation"):
            try:
                service(pledge, user=request.user)
                done += 1
            except (ValidationError, PermissionDenied) as exc:
                message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                refused.append(f"#{pledge.pk} ({pledge.nation}): {message}")
        if done:
            self.message_user(request, f"{done} pledge(s) {verb}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, f"Not {verb}: {line}", messages.ERROR)

    @admin.action(description="Record a status event for selected pledges", permissions=["change"])
    def record_status_for_selected(self, request, queryset):
        form = RecordStatusForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            recorded, refused = 0, []
            for pledge in queryset.select_related("nation"):
                try:
                    services.record_status_event(pledge, user=request.user, **form.cleaned_data)
                    recorded += 1
                except ValidationError as exc:
                    refused.append(f"#{pledge.pk} ({pledge.nation}): {' '.join(exc.messages)}")
            if recorded:
                self.message_user(request, f"Recorded “{dict(Status.choices)[form.cleaned_data['status']]}” "
                                           f"for {recorded} pledge(s).", messages.SUCCESS)
            for line in refused:
                self.message_user(request, f"Not recorded: {line}", messages.ERROR)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Record a status event",
            "form": form,
            "media": self.media + form.media,
            "pledges": queryset.select_related("nation"),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/commitments/pledge/record_status.html", context)


@admin.register(StatusEvent)
class StatusEventAdmin(AuditedAdmin):
    """All status steps across pledges; mostly edited inline on the pledge. An event's own page also records the
    units of the pledge's items delivered by its date."""

    inlines = [ItemDeliveryInline]

    list_display = ["pledge", "status", "occurred_on", "source", "recorded_by"]
    list_filter = ["status"]
    list_select_related = ["pledge__nation", "source", "recorded_by"]
    search_fields = ["pledge__description", "pledge__nation__name", "note", "source__title"]
    autocomplete_fields = ["pledge", "source"]
    date_hierarchy = "occurred_on"

    def save_model(self, request, obj, form, change):
        services.save_status_event(obj, user=request.user, reason=form.cleaned_data.get("change_reason") or "",
                                   source=form.cleaned_data.get("change_source"))

    def save_formset(self, request, form, formset, change):
        reason = form.cleaned_data.get("change_reason") or ("Changed" if change else "Created")
        deliveries = formset.save(commit=False)
        for delivery in formset.deleted_objects:
            services.delete_record(delivery, user=request.user, reason=reason)
        for delivery in deliveries:
            services.save_record(delivery, user=request.user, reason=reason, source=form.instance.source)

    def delete_model(self, request, obj):
        services.delete_status_event(obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for event in queryset.select_related("pledge"):
            services.delete_status_event(event, user=request.user)


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    """Reviewers cut releases here ("Add release" freezes what readers see now); nobody deletes one, and only its
    title and notes can change afterwards."""

    list_display = ["number", "title", "cut_at", "cut_by", "pledges", "includes_example"]
    fields = ["title", "notes"]
    readonly_fields = ["number", "cut_at", "cut_by", "pledges", "includes_example"]

    def get_fields(self, request, obj=None):
        return self.fields if obj is None else [*self.readonly_fields, *self.fields]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return services.can_publish(request.user)

    def has_change_permission(self, request, obj=None):
        return services.can_publish(request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # a release is cited: it stays

    def add_view(self, request, form_url="", extra_context=None):
        """Cutting a release reads everything published in one snapshot, so it runs in a transaction of its own
        rather than inside the one the admin opens around a change form."""
        if request.method != "POST":
            return super().add_view(request, form_url, extra_context)
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = self.get_form(request)(request.POST)
        if not form.is_valid():
            return super().add_view(request, form_url, extra_context)  # shows the errors by field
        release = services.cut_release(user=request.user, title=form.cleaned_data["title"],
                                       notes=form.cleaned_data["notes"])
        self.log_addition(request, release, [{"added": {}}])
        self.message_user(request, f"Release {release.number} cut: {release.pledges} published pledges frozen.",
                          messages.SUCCESS)
        return redirect("admin:commitments_release_change", release.pk)

    def save_model(self, request, obj, form, change):
        services.save_record(obj, user=request.user, reason="Title or notes changed")
