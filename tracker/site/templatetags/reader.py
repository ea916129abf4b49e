"""How figures read on the pages: an unknown or undisclosed figure never reads as 0, and every figure says how
many pledges it counts and how many of them have no value."""
from decimal import Decimal

from django import template
from django.conf import settings
from django.urls import translate_url
from django.utils import formats
from django.utils.html import format_html
from django.utils.translation import get_language, ngettext, pgettext
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def eur(value, missing="—"):
    """€1,234,567 (whole euros); `missing` when there is no figure."""
    if value is None or value == "":
        return missing
    return _("€%(amount)s") % {"amount": grouped(Decimal(value), 0)}


def grouped(value, places):
    """A number in the reader's language: 1,234.50 in English, 1.234,50 in German, 1 234,50 in French. Rounded
    (half to even, as Python formats a Decimal), never cut: Django's number_format would cut the digits."""
    return formats.number_format(Decimal(value).quantize(Decimal(1).scaleb(-places)), places, use_l10n=True,
                                 force_grouping=True)


@register.filter
def eur_short(value, missing="—"):
    """€3.38 billion, €268.1 million: for headline figures (the full figure is in a title attribute)."""
    if value is None or value == "":
        return missing
    value = Decimal(value)
    if abs(value) >= 10 ** 9:
        return _("€%(amount)s billion") % {"amount": grouped(value / 10 ** 9, 2)}
    if abs(value) >= 10 ** 6:
        return _("€%(amount)s million") % {"amount": grouped(value / 10 ** 6, 2)}
    return eur(value)


@register.filter
def percent(value):
    if value is None:
        return "—"
    return _("%(number)s%%") % {"number": grouped(Decimal(value), 2)}


@register.filter
def number(value):
    if value is None:
        return "—"
    value = Decimal(value)
    return grouped(value, 0 if value == value.to_integral_value() else 2)


def pledges_text(count):
    """"1 pledge", "7 pledges", in the reader's language."""
    return ngettext("%(count)s pledge", "%(count)s pledges", count) % {"count": count}


@register.simple_tag
def figure(fig, short=False):
    """A summary figure as a reader should read it, linked to the pledges it counts:
    "€1.2 billion" (+ "2 more not valued"), "not valued (3 pledges)", or "none"."""
    if not fig or not fig["pledges"] or not fig["pledges_url"]:
        return format_html('<span class="none" title="{}">{}</span>', _("no pledges"), pgettext("figure", "none"))
    if fig["eur"] is None:
        return format_html('<a href="{}" class="unknown">{}</a> <span class="muted">({})</span>',
                           fig["pledges_url"], _("not valued"), pledges_text(fig["pledges"]))
    shown = eur_short(fig["eur"]) if short else eur(fig["eur"])
    link = format_html('<a href="{}" title="{}">{}</a>', fig["pledges_url"], _("%(amount)s from %(pledges)s") % {
        "amount": eur(fig["eur"]), "pledges": pledges_text(fig["pledges"] - fig["not_valued"])}, shown)
    if fig["not_valued"]:
        return format_html('{} <span class="unknown">{}</span>', link,
                           _("+ %(count)s not valued") % {"count": fig["not_valued"]})
    return link


@register.simple_tag
def figure_count(fig):
    """"from 7 pledges; 2 more not valued": what a headline figure counts."""
    if not fig or not fig["pledges"]:
        return _("no pledges")
    valued = fig["pledges"] - fig["not_valued"]
    if not valued:
        return _("%(pledges)s, none valued") % {"pledges": pledges_text(fig["pledges"])}
    text = _("from %(pledges)s") % {"pledges": pledges_text(valued)}
    if fig["not_valued"]:
        text = _("%(text)s; %(count)s more not valued") % {"text": text, "count": fig["not_valued"]}
    return text


@register.simple_tag
def units(value, hidden=0, unknown=0, word="item"):
    """Units with what they leave out: "14", "14 + 2 items undisclosed", "undisclosed (3 items)"."""
    things = (ngettext("%(count)s pledge", "%(count)s pledges", hidden) if word == "pledge"
              else ngettext("%(count)s item", "%(count)s items", hidden)) % {"count": hidden}
    if value is None:
        if hidden:
            return format_html('<span class="undisclosed">{}</span> ({})', _("undisclosed"), things)
        return "—"
    text = number(value)
    if hidden:
        text = _("%(units)s + %(things)s undisclosed") % {"units": text, "things": things}
    return text


def _state(pledge, name):
    """The pledge's figure as of the page's date when the list read it (with_state), else its current one."""
    return getattr(pledge, f"state_{name}", getattr(pledge, name))


@register.simple_tag
def quantity(pledge):
    """'12 aircraft', 'undisclosed' or '—' (none stated)."""
    if _state(pledge, "quantity_undisclosed"):
        return format_html('<span class="undisclosed">{}</span>', _("undisclosed"))
    if _state(pledge, "quantity") is None:
        return "—"
    return f"{number(_state(pledge, 'quantity'))} {_state(pledge, 'unit')}".strip()


@register.simple_tag
def value(pledge, valuation="ecb"):
    """The EUR value (ours, or with valuation "source" the source's own), or why there is none."""
    amount = _state(pledge, "source_eur_value" if valuation == "source" else "eur_value")
    if amount is not None:
        return eur(amount)
    if pledge.disclosure != "public":
        return format_html('<span class="undisclosed">{}</span>', _("undisclosed"))
    return format_html('<span class="unknown">{}</span>', _("not valued"))


@register.simple_tag
def example(flag):
    return format_html('<span class="example">{}</span>', _("example")) if flag else ""


@register.simple_tag(takes_context=True)
def query(context, **changes):
    """This page's filters and date with some changed: `?{% query as_of="" %}`."""
    return context["selection"].querystring(**changes)


@register.simple_tag
def status(pledge):
    """The pledge's stage as of the page's date when the list computed it, else its current one."""
    from tracker.commitments.models import Status

    return Status(_state(pledge, "status")).label


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.simple_tag
def announced(pledge):
    """The announcement date as precisely as the source gives it."""
    day, precision = pledge.announced_on, pledge.announced_precision
    if day is None:
        return _("date unknown")
    if precision == "month":
        return formats.date_format(day, "YEAR_MONTH_FORMAT")
    if precision == "year":
        return formats.date_format(day, "Y")
    if precision == "until":
        return _("on or before %(day)s") % {"day": formats.date_format(day, "DATE_FORMAT")}
    if precision == "unknown":
        return _("date uncertain (about %(month)s)") % {"month": formats.date_format(day, "YEAR_MONTH_FORMAT")}
    return formats.date_format(day, "DATE_FORMAT")


@register.simple_tag(takes_context=True)
def language_links(context):
    """[(code, name, this page in that language, whether it is the current one)] for the language switcher."""
    path, current = context["request"].get_full_path(), get_language()
    return [(code, name, translate_url(path, code), code == current) for code, name in settings.LANGUAGES]


@register.filter
def eur_exact(value):
    """€12.34: euros with their cents when there are any (per-person figures)."""
    if value is None:
        return "—"
    return _("€%(amount)s") % {"amount": number(value)}


@register.filter
def stage_name(stage):
    """A stage's name in the reader's language: the stages are named after the statuses that open them."""
    from tracker.commitments.models import Status

    return Status(stage).label
