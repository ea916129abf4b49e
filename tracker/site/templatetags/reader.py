"""How figures read on the pages: an unknown or undisclosed figure never reads as 0, and every figure says how
many pledges it counts and how many of them have no value."""
from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def eur(value, missing="—"):
    """€1,234,567 (whole euros); `missing` when there is no figure."""
    if value is None or value == "":
        return missing
    return f"€{Decimal(value):,.0f}"


@register.filter
def eur_short(value, missing="—"):
    """€3.38 billion, €268.1 million: for headline figures (the full figure is in a title attribute)."""
    if value is None or value == "":
        return missing
    value = Decimal(value)
    for size, word in ((Decimal(10) ** 9, "billion"), (Decimal(10) ** 6, "million")):
        if abs(value) >= size:
            return f"€{value / size:,.2f} {word}"
    return f"€{value:,.0f}"


@register.filter
def percent(value):
    if value is None:
        return "—"
    return f"{Decimal(value):,.2f}%"


@register.filter
def number(value):
    if value is None:
        return "—"
    value = Decimal(value)
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"


def _pledges(count):
    return f"{count} pledge{'s' if count != 1 else ''}"


@register.simple_tag
def figure(fig, short=False):
    """A summary figure as a reader should read it, linked to the pledges it counts:
    "€1.2 billion" (+ "2 more not valued"), "not valued (3 pledges)", or "none"."""
    if not fig or not fig["pledges"] or not fig["pledges_url"]:
        return mark_safe('<span class="none" title="no pledges">none</span>')
    if fig["eur"] is None:
        return format_html('<a href="{}" class="unknown">not valued</a> <span class="muted">({})</span>',
                           fig["pledges_url"], _pledges(fig["pledges"]))
    shown = eur_short(fig["eur"]) if short else eur(fig["eur"])
    link = format_html('<a href="{}" title="{} from {}">{}</a>', fig["pledges_url"], eur(fig["eur"]),
                       _pledges(fig["pledges"] - fig["not_valued"]), shown)
    if fig["not_valued"]:
        return format_html('{} <span class="unknown">+ {} not valued</span>', link, fig["not_valued"])
    return link


@register.simple_tag
def figure_count(fig):
    """"from 7 pledges; 2 more not valued": what a headline figure counts."""
    if not fig or not fig["pledges"]:
        return "no pledges"
    valued = fig["pledges"] - fig["not_valued"]
    text = f"from {_pledges(valued)}" if valued else f"{_pledges(fig['pledges'])}, none valued"
    if valued and fig["not_valued"]:
        text += f"; {fig['not_valued']} more not valued"
    return text


@register.simple_tag
def units(value, hidden=0, unknown=0, word="item"):
    """Units with what they leave out: "14", "14 + 2 items undisclosed", "undisclosed (3 items)"."""
    if value is None:
        if hidden:
            plural = "s" if hidden != 1 else ""
            return mark_safe(f'<span class="undisclosed">undisclosed</span> ({hidden} {word}{plural})')
        return "—"
    text = number(value)
    if hidden:
        text += f" + {hidden} {word}{'s' if hidden != 1 else ''} undisclosed"
    return text


def _state(pledge, name):
    """The pledge's figure as of the page's date when the list read it (with_state), else its current one."""
    return getattr(pledge, f"state_{name}", getattr(pledge, name))


@register.simple_tag
def quantity(pledge):
    """'12 aircraft', 'undisclosed' or '—' (none stated)."""
    if _state(pledge, "quantity_undisclosed"):
        return mark_safe('<span class="undisclosed">undisclosed</span>')
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
        return mark_safe('<span class="undisclosed">undisclosed</span>')
    return mark_safe('<span class="unknown">not valued</span>')


@register.simple_tag
def example(flag):
    return mark_safe('<span class="example">example</span>') if flag else ""


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
    from django.utils.dateformat import format as date_format

    day, precision = pledge.announced_on, pledge.announced_precision
    if day is None:
        return "date unknown"
    if precision == "month":
        return date_format(day, "F Y")
    if precision == "year":
        return date_format(day, "Y")
    if precision == "until":
        return "on or before " + date_format(day, "j M Y")
    if precision == "unknown":
        return "date uncertain (about " + date_format(day, "M Y") + ")"
    return date_format(day, "j M Y")
