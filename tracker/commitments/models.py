"""The coalition commitment domain: who pledged what, towards which objective, and what was delivered.

Vocabulary follows DESIGN.md. Invariants are declared as database constraints as well as validated
in forms, so no path (admin, API, importer, raw SQL) can store an impossible record.
"""
import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from simple_history.models import HistoricalRecords

from . import valuation

# Money and quantities: up to 10^16 with 2 decimals covers any national budget in any currency.
MONEY = {"max_digits": 18, "decimal_places": 2}
QUANTITY = {"max_digits": 18, "decimal_places": 2}
NON_NEGATIVE = [MinValueValidator(Decimal("0"))]


# Dates outside these are typing errors (and 9999-12-31 has no month after it for a timeline to reach).
EARLIEST_DATE, LATEST_DATE = datetime.date(1900, 1, 1), datetime.date(2100, 12, 31)


def validate_date_in_range(value):
    if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValidationError(f"{value.isoformat()} is outside the dates this tracker records "
                              f"({EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}).", code="date_range")


def validate_not_after_today(value):
    if value is not None and value > timezone.localdate():
        raise ValidationError(f"{value.isoformat()} is after today: record what has happened.", code="future")


def exceeds(delivered, pledged):
    """Whether a delivered figure is above the pledged one, where both are known."""
    return delivered is not None and pledged is not None and delivered > pledged


class SourcedHistory(models.Model):
    """Extra columns on every history row: the source an editor cited for the change."""

    history_source = models.ForeignKey(
        "commitments.Source",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        db_index=False,  # shown with a history row, never searched by; an index would only slow every write
        related_name="+",
        verbose_name="source cited",
    )

    class Meta:
        abstract = True


# History rows name their user without a foreign-key constraint: a bulk import writes one per record, and the
# database would check each against auth_user (the importer names only the importing user, who exists).
HISTORY_OPTIONS = {"bases": [SourcedHistory], "user_db_constraint": False}


def history(**options):
    return HistoricalRecords(inherit=False, **HISTORY_OPTIONS, **options)


# History rows are looked up by the record's id and date only. Indexes simple_history would copy from the
# record's own foreign keys and unique fields cost every write (and bulk imports most) and serve no query.
# "pledge", "objective" and "source" are the columns of the snapshots of a pledge's links, read by history row.
PLEDGE_HISTORY_UNINDEXED = ["coalition", "nation", "published_by", "external_id", "pledge", "objective", "source"]
EVENT_HISTORY_UNINDEXED = ["source", "recorded_by"]


class Coalition(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    announced_on = models.DateField(null=True, blank=True, validators=[validate_date_in_range])
    is_example = models.BooleanField(
        default=False, help_text="Illustrative data, not fact. Marked as example wherever it appears."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = history()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("site:coalition", args=[self.slug])


class NationKind(models.TextChoices):
    STATE = "state", _("State")
    EU_INSTITUTION = "eu_institution", _("EU institution")
    FUND = "fund", _("Fund or financing facility")
    ALLIANCE = "alliance", _("Alliance or international organisation")
    OTHER = "other", _("Other body")


class Nation(models.Model):
    """A contributor: a state, or a body such as the EU Commission, the European Peace Facility or NATO."""

    Kind = NationKind

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=NationKind.choices, default=NationKind.STATE)
    country = CountryField(
        null=True, blank=True, unique=True, help_text="ISO 3166-1 code; required for states, empty for bodies."
    )
    is_pass_through = models.BooleanField(
        default=False,
        help_text="Funded by contributions from other nations (e.g. the European Peace Facility). "
        "Default totals leave its pledges out so the same money is never counted twice.",
    )
    is_example = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    history = history()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="state") | Q(country__isnull=False),
                name="nation_state_has_country_code",
                violation_error_message="A state needs its ISO 3166-1 country code.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=NationKind.values), name="nation_kind_valid"
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("site:nation", args=[self.slug])

    def clean(self):
        # The constraint's own error names no field; this one puts it next to the country.
        if self.kind == NationKind.STATE and not self.country:
            raise ValidationError({"country": "A state needs its ISO 3166-1 country code."})

    @property
    def code(self):
        return self.country.code if self.country else ""


class SourceKind(models.TextChoices):
    OFFICIAL_STATEMENT = "official_statement", _("Official statement")
    GOVERNMENT_RECORD = "government_record", _("Government record")
    PARLIAMENT_RECORD = "parliament_record", _("Parliament record")
    PRESS_REPORT = "press_report", _("Press report")
    RESEARCH = "research", _("Research or dataset")
    OTHER = "other", _("Other")


class Source(models.Model):
    """A dated document that a figure or a status change rests on."""

    Kind = SourceKind

    title = models.CharField(max_length=500)
    publisher = models.CharField(max_length=200, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    published_on = models.DateField(null=True, blank=True, validators=[validate_date_in_range])
    kind = models.CharField(max_length=30, choices=SourceKind.choices, default=SourceKind.OTHER)
    is_official = models.BooleanField(default=False, help_text="Issued by a government or the coalition itself.")
    is_example = models.BooleanField(default=False, help_text="A placeholder for demo data, not a real document.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = history()

    class Meta:
        ordering = ["-published_on", "title"]
        constraints = [
            models.UniqueConstraint(
                fields=["url"],
                condition=~Q(url=""),
                name="source_url_unique",
                violation_error_message="A source with this URL already exists.",
            ),
            models.CheckConstraint(condition=~Q(url="") | ~Q(publisher=""), name="source_has_url_or_publisher",
                                   violation_error_message="Give the source's URL or its publisher."),
        ]

    def __str__(self):
        dated = f", {self.published_on}" if self.published_on else ""
        return f"{self.title} ({self.publisher or self.url}{dated})"

    def get_absolute_url(self):
        return reverse("site:source", args=[self.pk])

    def clean(self):
        # The constraint's own error names no field; this one says it at both fields that can satisfy it.
        if not self.url and not self.publisher.strip():
            message = "Give the source's URL or its publisher."
            raise ValidationError({"url": message, "publisher": message})


class Role(models.TextChoices):
    LEAD = "lead", _("Lead")
    CO_LEAD = "co_lead", _("Co-lead")
    MEMBER = "member", _("Member")
    PARTNER = "partner", _("Partner")
    OBSERVER = "observer", _("Observer")
    BACKSTOP = "backstop", _("Backstop")


class Membership(models.Model):
    Role = Role

    coalition = models.ForeignKey(Coalition, on_delete=models.PROTECT, related_name="memberships")
    nation = models.ForeignKey(Nation, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    started_on = models.DateField(null=True, blank=True, validators=[validate_date_in_range])
    ended_on = models.DateField(null=True, blank=True, validators=[validate_date_in_range])
    is_disclosed = models.BooleanField(
        default=True, help_text="Publicly acknowledged. Undisclosed memberships are never shown to readers."
    )
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.PROTECT, related_name="memberships")
    note = models.TextField(blank=True)
    is_example = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    history = history()

    class Meta:
        ordering = ["coalition", "nation__name"]
        constraints = [
            models.UniqueConstraint(fields=["coalition", "nation"], name="membership_unique_nation_per_coalition",
                                    violation_error_message="This nation is already a member of this coalition."),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(started_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="membership_ends_after_start",
                violation_error_message="A membership cannot end before it starts.",
            ),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self):
        return f"{self.nation} in {self.coalition} ({self.get_role_display()})"


class CapabilityArea(models.TextChoices):
    LAND = "land", _("Land forces")
    AIR = "air", _("Air")
    MARITIME = "maritime", _("Maritime")
    TRAINING = "training", _("Training, technology and tactical support")
    CAPABILITY = "capability", _("Capability rebuilding")
    LOGISTICS = "logistics", _("Logistics")
    FINANCE = "finance", _("Finance")
    HUMANITARIAN = "humanitarian", _("Humanitarian")
    OTHER = "other", _("Other")


class Objective(models.Model):
    Area = CapabilityArea

    coalition = models.ForeignKey(Coalition, on_delete=models.PROTECT, related_name="objectives")
    title = models.CharField(max_length=300)
    slug = models.SlugField(max_length=100)
    capability_area = models.CharField(max_length=20, choices=CapabilityArea.choices, default=CapabilityArea.OTHER)
    description = models.TextField(blank=True)
    target_quantity = models.DecimalField(**QUANTITY, null=True, blank=True, validators=NON_NEGATIVE)
    target_unit = models.CharField(max_length=50, blank=True, help_text="e.g. troops, aircraft, ships")
    target_eur = models.DecimalField(**MONEY, null=True, blank=True, validators=NON_NEGATIVE,
                                     verbose_name="target (EUR)")
    deadline = models.DateField(null=True, blank=True, validators=[validate_date_in_range])
    lead_nations = models.ManyToManyField(Nation, blank=True, related_name="led_objectives")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order on pages.")
    is_example = models.BooleanField(default=False, help_text="Its target is illustrative, not from a source.")
    updated_at = models.DateTimeField(auto_now=True)

    history = history()

    class Meta:
        ordering = ["coalition", "position", "title"]
        constraints = [
            models.UniqueConstraint(fields=["coalition", "slug"], name="objective_slug_unique_per_coalition"),
            models.CheckConstraint(condition=Q(target_quantity__isnull=True) | Q(target_quantity__gte=0),
                                   name="objective_target_quantity_non_negative"),
            models.CheckConstraint(condition=Q(target_eur__isnull=True) | Q(target_eur__gte=0),
                                   name="objective_target_eur_non_negative"),
            models.CheckConstraint(
                condition=Q(target_quantity__isnull=True) | ~Q(target_unit=""),
                name="objective_target_quantity_has_unit",
                violation_error_message="A target quantity needs its unit.",
            ),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("site:objective", args=[self.coalition.slug, self.slug])


class Status(models.TextChoices):
    """A pledge's stage, in order. The default, 'unverified', means 'not yet rated', never a finding."""

    UNVERIFIED = "unverified", _("Unverified")
    ANNOUNCED = "announced", _("Announced")
    COMMITTED = "committed", _("Committed")
    ALLOCATED = "allocated", _("Allocated")
    PARTIALLY_DELIVERED = "partially_delivered", _("Partially delivered")
    DELIVERED = "delivered", _("Delivered")
    STALLED = "stalled", _("Stalled")
    CANCELLED = "cancelled", _("Cancelled")
    SUPERSEDED = "superseded", _("Superseded")


class PledgeKind(models.TextChoices):
    MILITARY = "military", _("Military")
    FINANCIAL = "financial", _("Financial")
    HUMANITARIAN = "humanitarian", _("Humanitarian")
    PERSONNEL = "personnel", _("Personnel")
    TRAINING = "training", _("Training")
    LOGISTICAL = "logistical", _("Logistical")
    EXPERTISE = "expertise", _("Expertise")


class Valuation(models.TextChoices):
    REPORTED = "reported", _("Reported by source")
    ESTIMATED = "estimated", _("Estimated from prices")
    NOT_VALUED = "not_valued", _("Not valued")


class DatePrecision(models.TextChoices):
    DAY = "day", _("Day")
    MONTH = "month", _("Month")
    YEAR = "year", _("Year")
    UNTIL = "until", _("Until (on or before)")
    UNKNOWN = "unknown", _("Unknown")


class Disclosure(models.TextChoices):
    PUBLIC = "public", _("Public")
    PARTIAL = "partial", _("Partially disclosed")
    CONFIDENTIAL = "confidential", _("Confidential")


class Publication(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")


class Pledge(models.Model):
    Kind = PledgeKind
    Valuation = Valuation
    DatePrecision = DatePrecision
    Disclosure = Disclosure
    Publication = Publication

    coalition = models.ForeignKey(Coalition, on_delete=models.PROTECT, related_name="pledges")
    nation = models.ForeignKey(Nation, on_delete=models.PROTECT, related_name="pledges")
    objectives = models.ManyToManyField(Objective, blank=True, related_name="pledges")
    sources = models.ManyToManyField(Source, blank=True, related_name="pledges")
    kind = models.CharField(max_length=20, choices=PledgeKind.choices)
    description = models.TextField()

    quantity = models.DecimalField(**QUANTITY, null=True, blank=True, validators=NON_NEGATIVE,
                                   help_text="Leave empty when the quantity is undisclosed or not applicable.")
    unit = models.CharField(max_length=50, blank=True, help_text="e.g. troops, aircraft, ships, systems")
    quantity_undisclosed = models.BooleanField(
        default=False, help_text="The source says a quantity exists but does not give it. Never read as zero."
    )

    amount = models.DecimalField(**MONEY, null=True, blank=True, validators=NON_NEGATIVE,
                                 help_text="Value in the original currency.")
    currency = models.CharField(max_length=3, blank=True, validators=[valuation.validate_currency],
                                help_text="ISO 4217 code, e.g. GBP.")
    eur_value = models.DecimalField(**MONEY, null=True, blank=True, editable=False, verbose_name="value (EUR)")
    eur_rate = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True, editable=False,
                                   verbose_name="rate (currency per EUR)")
    eur_rate_date = models.DateField(null=True, blank=True, editable=False, verbose_name="rate date")
    valuation_basis = models.CharField(max_length=20, choices=Valuation.choices, default=Valuation.REPORTED)
    source_eur_value = models.DecimalField(
        **MONEY, null=True, blank=True, validators=NON_NEGATIVE, verbose_name="EUR value given by the source",
        help_text="The EUR figure an imported dataset gives (e.g. the Kiel tracker's own conversion), "
        "kept to compare with ours.")

    is_conditional = models.BooleanField(default=False)
    condition = models.TextField(blank=True, help_text='In words, e.g. "in the event of a ceasefire".')

    announced_on = models.DateField(null=True, blank=True, validators=[validate_date_in_range])
    announced_precision = models.CharField(max_length=10, choices=DatePrecision.choices, default=DatePrecision.DAY)
    earmarked_from = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1900), MaxValueValidator(2200)],
        help_text="First year of a multi-year pledge.")
    earmarked_to = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1900), MaxValueValidator(2200)])
    disclosure = models.CharField(max_length=20, choices=Disclosure.choices, default=Disclosure.PUBLIC)

    # Current state, maintained by services.record_status_event from the latest StatusEvent;
    # stored so lists and totals over a million pledges need no subquery. "As of" views read the events.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UNVERIFIED, editable=False)
    delivered_quantity = models.DecimalField(**QUANTITY, null=True, blank=True, editable=False)
    delivered_eur = models.DecimalField(**MONEY, null=True, blank=True, editable=False,
                                        verbose_name="delivered (EUR)")

    publication = models.CharField(max_length=10, choices=Publication.choices, default=Publication.DRAFT,
                                   editable=False)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, editable=False,
                                     on_delete=models.SET_NULL, related_name="+")

    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True, editable=False,
                                   help_text="Stable id from an imported file, so re-imports update in place.")
    is_example = models.BooleanField(default=False,
                                     help_text="Illustrative data, not fact. Marked as example wherever it appears.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(**HISTORY_OPTIONS, m2m_fields=[objectives, sources],
                                no_db_index=PLEDGE_HISTORY_UNINDEXED)

    class Meta:
        ordering = ["-announced_on", "-id"]
        permissions = [("publish_pledge", "Can publish and unpublish pledges")]
        indexes = [
            models.Index(fields=["coalition", "publication", "status"]),
            models.Index(fields=["nation", "publication"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__isnull=True) | Q(quantity__gte=0),
                                   name="pledge_quantity_non_negative"),
            models.CheckConstraint(condition=Q(delivered_quantity__isnull=True) | Q(delivered_quantity__gte=0),
                                   name="pledge_delivered_quantity_non_negative"),
            models.CheckConstraint(condition=Q(amount__isnull=True) | Q(amount__gte=0),
                                   name="pledge_amount_non_negative"),
            models.CheckConstraint(condition=Q(eur_value__isnull=True) | Q(eur_value__gte=0),
                                   name="pledge_eur_value_non_negative"),
            models.CheckConstraint(condition=Q(delivered_eur__isnull=True) | Q(delivered_eur__gte=0),
                                   name="pledge_delivered_eur_non_negative"),
            models.CheckConstraint(condition=Q(source_eur_value__isnull=True) | Q(source_eur_value__gte=0),
                                   name="pledge_source_eur_value_non_negative"),
            models.CheckConstraint(condition=Q(eur_rate__isnull=True) | Q(eur_rate__gt=0),
                                   name="pledge_eur_rate_positive"),
            models.CheckConstraint(
                condition=Q(quantity_undisclosed=False) | Q(quantity__isnull=True),
                name="pledge_undisclosed_quantity_is_empty",
                violation_error_message="An undisclosed quantity cannot also be given a number.",
            ),
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | ~Q(unit=""),
                name="pledge_quantity_has_unit",
                violation_error_message="A quantity needs its unit.",
            ),
            models.CheckConstraint(
                condition=(Q(amount__isnull=True) & Q(currency="")) | (Q(amount__isnull=False) & ~Q(currency="")),
                name="pledge_amount_has_currency",
                violation_error_message="An amount needs its currency, and a currency its amount.",
            ),
            models.CheckConstraint(
                condition=Q(is_conditional=False) | ~Q(condition=""),
                name="pledge_conditional_states_condition",
                violation_error_message="A conditional pledge must state its condition.",
            ),
            models.CheckConstraint(
                condition=Q(earmarked_from__isnull=True) | Q(earmarked_to__isnull=True)
                | Q(earmarked_to__gte=F("earmarked_from")),
                name="pledge_earmarked_years_ordered",
                violation_error_message="The last earmarked year cannot be before the first.",
            ),
            models.CheckConstraint(condition=Q(kind__in=PledgeKind.values), name="pledge_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="pledge_status_valid"),
            models.CheckConstraint(condition=Q(publication__in=Publication.values),
                                   name="pledge_publication_valid"),
            models.CheckConstraint(condition=Q(valuation_basis__in=Valuation.values),
                                   name="pledge_valuation_basis_valid"),
            models.CheckConstraint(condition=Q(disclosure__in=Disclosure.values),
                                   name="pledge_disclosure_valid"),
            models.CheckConstraint(
                condition=Q(announced_precision__in=DatePrecision.values),
                name="pledge_announced_precision_valid",
            ),
            models.CheckConstraint(
                condition=Q(publication="draft") | Q(published_at__isnull=False),
                name="pledge_published_has_timestamp",
            ),
        ]

    def __str__(self):
        return f"{self.nation}: {self.description[:60]}"

    def get_absolute_url(self):
        return reverse("site:pledge", args=[self.pk])

    @property
    def is_published(self):
        return self.publication == self.Publication.PUBLISHED

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # Whether readers saw it as read: a change that unpublishes it is a change readers see too.
        instance.published_when_loaded = instance.__dict__.get("publication") == Publication.PUBLISHED
        # What was read, so a save checks and derives only what changed (services.save_record).
        instance.loaded_values = dict(zip(field_names, values, strict=True))
        return instance

    published_when_loaded = False
    loaded_values = {}

    def unchanged_fields(self):
        """Names of the fields that still hold the value they were read with (none for a new pledge)."""
        return [f.name for f in self._meta.concrete_fields
                if f.attname in self.loaded_values and self.loaded_values[f.attname] == getattr(self, f.attname)]

    def clean(self):
        """Cross-field rules, and the EUR value from the ECB rate of the announcement date."""
        errors = {}
        if self.quantity_undisclosed and self.quantity is not None:
            errors["quantity"] = "Leave the quantity empty when it is undisclosed."
        if self.quantity is not None and not self.unit:
            errors["unit"] = "A quantity needs its unit."
        if self.amount is not None and not self.currency:
            errors["currency"] = "An amount needs its currency."
        if self.currency and self.amount is None:
            errors["amount"] = "A currency needs an amount."
        if self.is_conditional and not self.condition.strip():
            errors["condition"] = "A conditional pledge must state its condition."
        if self.earmarked_from and self.earmarked_to and self.earmarked_to < self.earmarked_from:
            errors["earmarked_to"] = "The last earmarked year cannot be before the first."
        if self.pk and self.announced_on and self.loaded_values.get("announced_on") != self.announced_on:
            earliest = self.earliest_event_on()
            if earliest and earliest < self.announced_on:
                errors["announced_on"] = f"A status event is dated {earliest}, before this announcement date."
        if errors:
            raise ValidationError(errors)
        self.revalue()
        if not self.delivery_beyond_pledge_is_a_note:
            beyond = delivery_beyond_pledge(self, self.delivered_quantity, self.delivered_eur)
            if beyond:
                raise ValidationError({"quantity" if name == "delivered_quantity" else "amount": message
                                       for name, message in beyond.items()})

    # Editors are stopped by a delivery above what was pledged (most often a typo). A third party's release is
    # imported as it stands: the importer sets this and reports the same finding as a note.
    delivery_beyond_pledge_is_a_note = False

    def earliest_event_on(self):
        """Date of its first status event. The importer sets `_earliest_event_on` for many pledges in one query."""
        if hasattr(self, "_earliest_event_on"):
            return self._earliest_event_on
        return self.status_events.order_by("occurred_on").values_list("occurred_on", flat=True).first()

    def revalue(self):
        """Set the EUR value, rate and rate date from the amount, currency and announcement date."""
        if self.currency and self.currency not in valuation.known_currencies():
            return  # the currency field's own validator reports it
        if self.amount is None or not self.currency:
            self.eur_value = self.eur_rate = self.eur_rate_date = None
            return
        try:
            rate = valuation.eur_rate(self.currency, self.announced_on)
        except valuation.NoRate as exc:
            raise ValidationError({"currency": str(exc)}) from exc
        self.eur_rate, self.eur_rate_date = rate.rate, rate.date
        self.eur_value = valuation.to_eur(self.amount, rate)


class StatusEvent(models.Model):
    """One dated step in a pledge's life, with the source that shows it. The latest one is the pledge's status."""

    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="status_events")
    status = models.CharField(max_length=20, choices=Status.choices)
    occurred_on = models.DateField(validators=[validate_date_in_range, validate_not_after_today])
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="status_events")
    note = models.TextField(blank=True)
    delivered_quantity = models.DecimalField(**QUANTITY, null=True, blank=True, validators=NON_NEGATIVE,
                                             help_text="Cumulative quantity delivered by this date.")
    delivered_eur = models.DecimalField(**MONEY, null=True, blank=True, validators=NON_NEGATIVE,
                                        verbose_name="delivered (EUR)",
                                        help_text="Cumulative value delivered by this date, in EUR.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, editable=False,
                                    on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = history(no_db_index=EVENT_HISTORY_UNINDEXED)

    class Meta:
        ordering = ["pledge", "occurred_on", "id"]
        get_latest_by = ["occurred_on", "id"]
        indexes = [models.Index(fields=["pledge", "occurred_on", "id"])]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=Status.values), name="status_event_status_valid"),
            models.CheckConstraint(condition=Q(delivered_quantity__isnull=True) | Q(delivered_quantity__gte=0),
                                   name="status_event_delivered_quantity_non_negative"),
            models.CheckConstraint(condition=Q(delivered_eur__isnull=True) | Q(delivered_eur__gte=0),
                                   name="status_event_delivered_eur_non_negative"),
        ]

    def __str__(self):
        return f"{self.get_status_display()} on {self.occurred_on}"

    def clean(self):
        """Rules that involve the pledge: no event before its announcement, no delivery beyond what was pledged."""
        # A pledge being imported is validated with its events before either is saved.
        pledge = self.pledge if self.pledge_id or StatusEvent.pledge.is_cached(self) else None
        if pledge is None:
            return
        errors = event_errors(self, pledge)
        if not pledge.delivery_beyond_pledge_is_a_note:
            errors.update(delivery_beyond_pledge(pledge, self.delivered_quantity, self.delivered_eur))
        if errors:
            raise ValidationError(errors)


def event_errors(event, pledge):
    """What is wrong with a status event of `pledge`, by field: a date before the announcement."""
    errors = {}
    if event.occurred_on and pledge.announced_on and event.occurred_on < pledge.announced_on:
        errors["occurred_on"] = (
            f"A status event cannot be dated before the pledge was announced ({pledge.announced_on})."
        )
    return errors


def delivery_beyond_pledge(pledge, delivered_quantity, delivered_eur):
    """Delivered figures above what was pledged, by field, with what they exceed. The pledged value is taken
    at the higher of its two valuations (ours and the source's own EUR figure), which may differ by the rate."""
    found = {}
    if exceeds(delivered_quantity, pledge.quantity):
        found["delivered_quantity"] = (f"{delivered_quantity:,} delivered exceeds the pledged quantity "
                                       f"({pledge.quantity:,} {pledge.unit}).")
    values = [v for v in (pledge.eur_value, pledge.source_eur_value) if v is not None]
    if values and exceeds(delivered_eur, max(values)):
        found["delivered_eur"] = (f"EUR {delivered_eur:,.2f} delivered exceeds the pledged value "
                                  f"(EUR {max(values):,.2f}).")
    return found


class PledgeItem(models.Model):
    """One line of equipment or goods in a pledge (e.g. "Leopard 2A6", a main battle tank): units pledged, or
    "undisclosed", never 0; its unit price where the source gives one. Deliveries of it are dated by the status
    events that report them (ItemDelivery)."""

    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order within the pledge.")
    name = models.CharField(max_length=300)
    item_type = models.CharField(max_length=100, blank=True, verbose_name="type",
                                 help_text="Category, e.g. Heavy weapon, Ammunition for heavy weapon.")
    sub_type = models.CharField(max_length=200, blank=True, verbose_name="sub-type",
                                help_text="e.g. Main Battle Tank (MBT), 155mm howitzer.")
    quantity = models.DecimalField(**QUANTITY, null=True, blank=True, validators=NON_NEGATIVE,
                                   verbose_name="units pledged",
                                   help_text="Leave empty when the number is undisclosed or not given.")
    quantity_undisclosed = models.BooleanField(default=False, verbose_name="units undisclosed",
                                               help_text="The source says units exist but not how many.")
    unit_price = models.DecimalField(**MONEY, null=True, blank=True, validators=NON_NEGATIVE)
    unit_price_currency = models.CharField(max_length=3, blank=True, validators=[valuation.validate_currency])

    history = history()

    class Meta:
        ordering = ["pledge", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__isnull=True) | Q(quantity__gte=0),
                                   name="pledge_item_quantity_non_negative"),
            models.CheckConstraint(condition=Q(quantity_undisclosed=False) | Q(quantity__isnull=True),
                                   name="pledge_item_undisclosed_quantity_is_empty",
                                   violation_error_message="Undisclosed units cannot also be given a number."),
            models.CheckConstraint(condition=Q(unit_price__isnull=True) | Q(unit_price__gte=0),
                                   name="pledge_item_unit_price_non_negative"),
            models.CheckConstraint(
                condition=(Q(unit_price__isnull=True) & Q(unit_price_currency=""))
                | (Q(unit_price__isnull=False) & ~Q(unit_price_currency="")),
                name="pledge_item_price_has_currency",
                violation_error_message="A unit price needs its currency, and a currency its price."),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if self.quantity_undisclosed and self.quantity is not None:
            errors["quantity"] = "Leave the units empty when they are undisclosed."
        if self.unit_price is not None and not self.unit_price_currency:
            errors["unit_price_currency"] = "A unit price needs its currency."
        if self.unit_price_currency and self.unit_price is None:
            errors["unit_price"] = "A currency needs a unit price."
        if errors:
            raise ValidationError(errors)


class ItemDelivery(models.Model):
    """How many units of an item line were delivered in total by the date of the status event reporting it."""

    event = models.ForeignKey(StatusEvent, on_delete=models.CASCADE, related_name="item_deliveries")
    item = models.ForeignKey(PledgeItem, on_delete=models.CASCADE, related_name="deliveries")
    quantity = models.DecimalField(**QUANTITY, null=True, blank=True, validators=NON_NEGATIVE,
                                   verbose_name="units delivered", help_text="In total by the event's date.")
    quantity_undisclosed = models.BooleanField(default=False, verbose_name="units undisclosed")

    history = history()

    class Meta:
        verbose_name_plural = "item deliveries"
        ordering = ["event", "item"]
        constraints = [
            models.UniqueConstraint(fields=["event", "item"], name="item_delivery_once_per_event",
                                    violation_error_message="This event already reports this item."),
            models.CheckConstraint(condition=Q(quantity__isnull=True) | Q(quantity__gte=0),
                                   name="item_delivery_quantity_non_negative"),
            models.CheckConstraint(condition=Q(quantity_undisclosed=False) | Q(quantity__isnull=True),
                                   name="item_delivery_undisclosed_quantity_is_empty",
                                   violation_error_message="Undisclosed units cannot also be given a number."),
        ]

    def __str__(self):
        return f"{self.item}: {self.quantity if self.quantity is not None else 'undisclosed'}"

    def clean(self):
        if self.event_id and self.item_id and self.item.pledge_id != self.event.pledge_id:
            raise ValidationError({"item": "This item belongs to another pledge."})
        if self.quantity_undisclosed and self.quantity is not None:
            raise ValidationError({"quantity": "Leave the units empty when they are undisclosed."})


# The figures of a pledge that can change over time and that totals add up; each save changing one of them
# records a PledgeRevision, so "as of" views use the figures in force on their date.
FIGURES = ["amount", "currency", "eur_value", "source_eur_value", "quantity", "unit", "quantity_undisclosed",
           "is_conditional"]


class PledgeRevision(models.Model):
    """A pledge's figures from a date on. Written by services with every save that changes a figure; never edited.

    The figures in force on a day are those of the most recently recorded revision taking effect on or before
    that day (one without a date applies from the start), so a later correction overrides from its date on.
    """

    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="revisions")
    effective_on = models.DateField(null=True, blank=True, help_text="Empty: from the pledge's start.")
    recorded_at = models.DateTimeField()
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    eur_value = models.DecimalField(**MONEY, null=True, blank=True)
    source_eur_value = models.DecimalField(**MONEY, null=True, blank=True)
    quantity = models.DecimalField(**QUANTITY, null=True, blank=True)
    unit = models.CharField(max_length=50, blank=True)
    quantity_undisclosed = models.BooleanField(default=False)
    is_conditional = models.BooleanField(default=False)

    class Meta:
        ordering = ["pledge", "id"]

    def __str__(self):
        return f"{self.pledge_id} from {self.effective_on or 'the start'}"


class PledgePeriod(models.Model):
    """A stretch of days over which a pledge's stage and figures did not change: [valid_from, valid_to).

    Derived from the pledge's status events and revisions (timeline.periods), rebuilt by services on every
    write, never edited. Totals as of a day are a plain aggregate over the periods containing that day; the
    period with no end is the pledge's state today. A pledge with no known date and no event has a single
    period with no start: it counts today, but on no past date.
    """

    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="periods")
    valid_from = models.DateField(null=True)
    valid_to = models.DateField(null=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    is_conditional = models.BooleanField()
    eur_value = models.DecimalField(**MONEY, null=True)
    source_eur_value = models.DecimalField(**MONEY, null=True)
    delivered_eur = models.DecimalField(**MONEY, null=True)
    quantity = models.DecimalField(**QUANTITY, null=True)
    unit = models.CharField(max_length=50, blank=True)
    quantity_undisclosed = models.BooleanField()
    delivered_quantity = models.DecimalField(**QUANTITY, null=True)

    class Meta:
        ordering = ["pledge", "valid_from"]
        indexes = [models.Index(fields=["pledge", "valid_to"]), models.Index(fields=["valid_to", "valid_from"])]
        constraints = [
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_from__isnull=False)
                                   & Q(valid_to__gt=F("valid_from")), name="pledge_period_ends_after_start"),
        ]

    def __str__(self):
        return f"{self.pledge_id} [{self.valid_from}, {self.valid_to})"


class DataVersion(models.Model):
    """One row counting writes to the commitment data. Every write bumps it in the same transaction,
    so caches keyed on it (summaries, ETags) can never serve figures older than the data.

    `public_version` and `public_changed_at` move only with writes readers can see (published pledges and what
    they use): what anonymous responses are keyed on and the site's footer shows, so unpublished work stays unseen.
    """

    version = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(null=True)
    public_version = models.BigIntegerField(default=0)
    public_changed_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="data_version_single_row")]

    def __str__(self):
        return f"data version {self.version}"


class NationFigures(models.Model):
    """GDP and population of a nation in a year, for 'share of GDP' and 'per capita' summaries."""

    nation = models.ForeignKey(Nation, on_delete=models.CASCADE, related_name="figures")
    year = models.PositiveSmallIntegerField(validators=[MinValueValidator(1900), MaxValueValidator(2200)])
    gdp_eur = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("1"))], verbose_name="GDP (EUR)")
    population = models.BigIntegerField(validators=[MinValueValidator(1)])
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    history = history()

    class Meta:
        verbose_name = "nation figures"
        verbose_name_plural = "nation figures"
        ordering = ["nation", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["nation", "year"], name="nation_figures_one_per_year"),
            models.CheckConstraint(condition=Q(gdp_eur__gt=0), name="nation_figures_gdp_positive"),
            models.CheckConstraint(condition=Q(population__gt=0), name="nation_figures_population_positive"),
        ]

    def __str__(self):
        return f"{self.nation} {self.year}"


class ImportUpload(models.Model):
    """A file uploaded to the admin's import, kept between its preview and its confirmation under its SHA-256, in
    the database so that every app server sees it (preview on one, confirm on another). Kept for a day."""

    digest = models.CharField(max_length=64, primary_key=True)
    data = models.BinaryField()
    uploaded_at = models.DateTimeField(default=timezone.now)

    KEPT = datetime.timedelta(days=1)

    def __str__(self):
        return self.digest


class Release(models.Model):
    """A numbered, citable release: what readers saw when a reviewer cut it, frozen.

    It keeps every published pledge's figures (ReleasedPledge), the summary documents readers could ask for
    (ReleaseDocument) and the published dataset as the files readers downloaded, so `release=<n>` answers exactly
    as it did, whatever is corrected later."""

    number = models.PositiveIntegerField(unique=True, validators=[MinValueValidator(1)])
    title = models.CharField(max_length=200)
    notes = models.TextField(blank=True, help_text="What this release brings, for readers.")
    cut_at = models.DateTimeField(editable=False, help_text="The moment its data was read.")
    cut_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, editable=False,
                               on_delete=models.SET_NULL, related_name="+")
    pledges = models.PositiveIntegerField(default=0, editable=False, help_text="Published pledges it holds.")
    includes_example = models.BooleanField(default=False, editable=False)
    dataset_csv = models.BinaryField(editable=False)
    dataset_xlsx = models.BinaryField(editable=False)

    history = history(excluded_fields=["dataset_csv", "dataset_xlsx"])

    class Meta:
        ordering = ["-number"]
        constraints = [models.CheckConstraint(condition=Q(number__gte=1), name="release_number_positive")]

    def __str__(self):
        return f"Release {self.number}: {self.title}"

    def get_absolute_url(self):
        return reverse("site:release", args=[self.number])


class ReleasedPledge(models.Model):
    """A published pledge's figures as they stood in a release (the corrections log compares these)."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="released_pledges")
    pledge_id = models.PositiveIntegerField(help_text="The pledge's id; it may since have been withdrawn.")
    coalition = models.ForeignKey(Coalition, on_delete=models.PROTECT, related_name="+")
    nation = models.ForeignKey(Nation, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=PledgeKind.choices)
    description = models.TextField()
    quantity = models.DecimalField(**QUANTITY, null=True, blank=True)
    unit = models.CharField(max_length=50, blank=True)
    quantity_undisclosed = models.BooleanField(default=False)
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    eur_value = models.DecimalField(**MONEY, null=True, blank=True, verbose_name="value (EUR)")
    source_eur_value = models.DecimalField(**MONEY, null=True, blank=True, verbose_name="dataset's EUR value")
    is_conditional = models.BooleanField(default=False)
    condition = models.TextField(blank=True)
    announced_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    delivered_quantity = models.DecimalField(**QUANTITY, null=True, blank=True)
    delivered_eur = models.DecimalField(**MONEY, null=True, blank=True, verbose_name="delivered (EUR)")
    is_example = models.BooleanField(default=False)

    # What readers can compare between releases, in the order the corrections log lists them.
    COMPARED = ["description", "kind", "quantity", "unit", "quantity_undisclosed", "amount", "currency", "eur_value",
                "source_eur_value", "is_conditional", "condition", "announced_on", "status", "delivered_quantity",
                "delivered_eur"]
    # Changes to these alone record progress (a delivery, a new stage); to any other, a correction.
    PROGRESS = {"status", "delivered_quantity", "delivered_eur"}

    class Meta:
        constraints = [models.UniqueConstraint(fields=["release", "pledge_id"], name="released_pledge_once")]

    def __str__(self):
        return f"{self.release.number}: pledge {self.pledge_id}"


class ReleaseDocument(models.Model):
    """A summary document as a release answered it: for one grouping and one query (filters and valuation)."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="documents")
    query = models.CharField(max_length=500, help_text="The selection's query string, sorted.")
    grouping = models.CharField(max_length=20)
    document = models.JSONField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["release", "query", "grouping"], name="release_document_once")]

    def __str__(self):
        return f"{self.release.number}: {self.grouping}?{self.query}"
