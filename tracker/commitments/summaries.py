"""Summary documents: the totals every interface shows (API, reader pages, charts, downloads).

Built from the selectors, so each figure is computed in one place. Every figure is given for firm and for
conditional pledges apart, at each stage (announced, committed, delivered), as: the sum of the values known
(`eur`, null when none of its pledges has one, never 0 for unknown), how many pledges it counts (`pledges`),
how many of those have no value (`not_valued`), and `pledges_url`, the pledge list holding exactly the pledges
it counts (`link` turns a filter dict into that URL: the API links to its pledge list, the pages to theirs).

Documents are cached under a key holding the data version, which every write bumps: a repeated read runs no
aggregate query and a write shows on the very next read.
"""
import datetime
import hashlib
import logging
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django.core.cache import cache, caches
from django.utils import formats, timezone
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from . import selectors
from .filters import UnknownRelease
from .models import Pledge, Status

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")
SUMMARY_TTL = 24 * 3600  # the version in the key, not the TTL, keeps figures fresh
# Every grouping a summary document can have (declared here only), with the API path that serves it.
GROUPINGS = {"totals": "totals", "coalition": "by-coalition", "nation": "by-nation", "objective": "by-objective",
             "kind": "by-kind", "status": "by-status", "month": "by-month", "item": "by-item-type"}
COMMITMENTS = list(selectors.COMMITMENTS)
STAGES = list(selectors.STAGES)
STATUS_ORDER = {status.value: index for index, status in enumerate(Status)}
KIND_ORDER = {kind.value: index for index, kind in enumerate(Pledge.Kind)}


ALL_PLEDGES = _("All pledges")


def _month_label(day):
    return formats.date_format(day, "M Y")


# Labels are read in the reader's language when shown (the API's is English); a cached document serves them all.
month_label = lazy(_month_label, str)


def label(grouping, key):
    """A row's label from its key, in the language of whoever reads it (None: the grouping labels rows by the record
    they sum, a nation's name say). Built documents and a release's frozen ones are labelled alike."""
    if grouping == "totals":
        return ALL_PLEDGES
    if grouping == "kind":
        return Pledge.Kind(key).label
    if grouping == "status":
        return Status(key).label
    if grouping == "month":
        return month_label(datetime.date.fromisoformat(f"{key}-01"))
    return None


def money(value):
    return None if value is None else Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def ratio(part, whole, scale=1):
    if part is None or not whole:
        return None
    return (Decimal(part) * scale / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def figures(raw, query, link):
    """{"firm": {stage: figure}, "conditional": {...}} from a row of selectors aggregates."""
    out = {}
    for commitment in COMMITMENTS:
        out[commitment] = {}
        for stage in STAGES:
            counted = raw.get(f"{commitment}_{stage}_pledges") or 0
            valued = raw.get(f"{commitment}_{stage}_valued") or 0
            total = raw.get(f"{commitment}_{stage}_eur")
            narrowed = figure_query(query, stage, commitment)
            out[commitment][stage] = {
                "eur": money(total if total is not None else 0) if valued else None,
                "pledges": counted,
                "not_valued": counted - valued,
                "pledges_url": link(narrowed) if narrowed is not None else None,
            }
    return out


def figure_query(query, stage, commitment):
    """The list query of one figure: the document's filters, narrowed to the figure's stage and commitment.
    None when the document's own filters leave no pledge for it (conditional=true, and a firm figure)."""
    narrowed = dict(query)
    stages = [s for s in narrowed.get("stage", "").split(",") if s]
    narrowed["stage"] = ",".join(stages + [stage] if stage not in stages else stages)
    wanted = "true" if commitment == "conditional" else "false"
    if narrowed.get("conditional") not in (None, "", wanted):
        return None
    narrowed["conditional"] = wanted
    return narrowed


def delivery_gap(row):
    """Firm value committed but not yet delivered. `bound` says how to read it: "exact"; "at_least" when committed
    pledges of unknown value would add to it; "at_most" when deliveries of unknown value would take from it;
    "unknown" when both, or when no committed value is known."""
    committed, delivered = row["firm"]["committed"], row["firm"]["delivered"]
    if committed["eur"] is None:
        known = committed["pledges"] == 0 and delivered["pledges"] == 0
        return {"eur": money(0) if known else None, "bound": "exact" if known else "unknown"}
    more, less = committed["not_valued"] > 0, delivered["not_valued"] > 0
    bound = "unknown" if more and less else "at_least" if more else "at_most" if less else "exact"
    return {"eur": committed["eur"] - (delivered["eur"] or 0) if bound != "unknown" else None, "bound": bound}


def _row(raw, key, label, query, link):
    row = {"key": key, "label": label, "pledges": raw.get("pledges") or 0,
           "pass_through": raw.get("pass_through") or 0, "example": bool(raw.get("example_pledges")),
           "pledges_url": link(query), **figures(raw, query, link), "extra": {}}
    row["delivery_gap"] = delivery_gap(row)
    return row


def build_summary(selection, grouping, link, year=None):
    """The summary document for a Selection (filters/select), by `grouping` (one of GROUPINGS)."""
    base = {**selection.query}
    valuation = selection.valuation
    if grouping == "month":
        rows = _timeline(selection, base, link)
    elif grouping == "item":
        rows = _items(selection, base, link)
    else:
        raw_rows = selectors.summarize(selection.pledges, grouping, valuation)
        rows = _grouped(raw_rows, grouping, base, link, year)
    document = {
        "grouping": grouping,
        "as_of": selection.as_of,
        "valuation": valuation,
        "generated_at": timezone.now(),
        "includes_example": any(row.get("example") for row in rows),
        "stages": selectors.STAGES,
        "filters": selection.filters,
        "results": rows,
        "release": None,  # today's data; a release's own documents name it
        "extends_release": release_stamp(selectors.latest_release()),
    }
    if grouping == "totals":
        document["undated_pledges"] = selectors.undated_count(selection.pledges) if selection.as_of is None else 0
    if grouping == "nation":
        document["concentration"] = concentration(rows)
    return document


TOP = (1, 3, 5)


def concentration(nation_rows):
    """How much of each firm figure rests on the largest contributors: for each stage, the share of the top 1, 3
    and 5 contributors and the Herfindahl-Hirschman index (the sum of squared percentage shares: 10,000 when one
    contributor gives everything), over the EUR values known. `not_valued` counts the firm pledges at that stage
    with no value, which no share includes; with any, the figures are `complete: False`."""
    found = {}
    for stage in STAGES:
        values = sorted((Decimal(row["firm"][stage]["eur"]) for row in nation_rows
                         if row["firm"][stage]["eur"] is not None and Decimal(row["firm"][stage]["eur"]) > 0),
                        reverse=True)
        total = sum(values)
        not_valued = sum(row["firm"][stage]["not_valued"] for row in nation_rows)
        shares = [value * 100 / total for value in values] if total else []
        found[stage] = {
            "contributors": len(values),
            "eur": money(total) if values else None,
            **{f"top_{n}_percent": ratio(sum(values[:n]), total, 100) if values else None for n in TOP},
            "hhi": sum(share * share for share in shares).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
            if shares else None,
            "not_valued": not_valued,
            "complete": not_valued == 0,
        }
    return found


def _grouped(raw_rows, grouping, base, link, year):
    if grouping == "totals":
        row = _row(raw_rows[0], None, label("totals", None), base, link)
        row["extra"] = {"nations": raw_rows[0]["nations"]}
        return [row]
    rows = []
    figures_by_nation = selectors.figures_for([r["nation__slug"] for r in raw_rows], year) \
        if grouping == "nation" else {}
    for raw in raw_rows:
        if grouping == "nation":
            row = _row(raw, raw["nation__slug"], raw["nation__name"], {**base, "nation": raw["nation__slug"]}, link)
            fig = figures_by_nation.get(raw["nation__slug"])
            firm = row["firm"]["announced"]["eur"]
            row["extra"] = {
                "code": raw["nation__country"], "kind": raw["nation__kind"], "is_example": raw["nation__is_example"],
                "is_pass_through": raw["nation__is_pass_through"],
                "figures_year": fig.year if fig else None,
                "share_of_gdp_percent": ratio(firm, fig.gdp_eur, 100) if fig else None,
                "eur_per_capita": ratio(firm, fig.population) if fig else None,
                "figures_source": fig.source_id if fig else None,
            }
        elif grouping == "coalition":
            slug = raw["coalition__slug"]
            row = _row(raw, slug, raw["coalition__name"], {**base, "coalition": slug}, link)
            row["extra"] = {"is_example": raw["coalition__is_example"]}
        elif grouping == "objective":
            row = _row(raw, raw["objectives__slug"], raw["objectives__title"],
                       {**base, "objective": raw["objectives__slug"]}, link)
            row["extra"] = _coverage(raw, row)
        elif grouping == "kind":
            row = _row(raw, raw["kind"], label("kind", raw["kind"]), {**base, "kind": raw["kind"]}, link)
        else:  # status
            row = _row(raw, raw["state_status"], label("status", raw["state_status"]),
                       {**base, "status": raw["state_status"]}, link)
        rows.append(row)
    return sorted(rows, key=_order(grouping))


def _order(grouping):
    if grouping == "nation":  # ranked by firm value pledged; unvalued last
        return lambda r: (r["firm"]["announced"]["eur"] is None, -(r["firm"]["announced"]["eur"] or 0), r["label"])
    if grouping == "objective":
        return lambda r: (r["extra"]["position"], r["label"])
    if grouping == "status":  # the pipeline's order
        return lambda r: STATUS_ORDER[r["key"]]
    return lambda r: (r["firm"]["announced"]["eur"] is None, -(r["firm"]["announced"]["eur"] or 0),
                      KIND_ORDER.get(r["key"], 0))


def _coverage(raw, row):
    """An objective's target and how far firm pledges cover it; what conditional ones would add; what is unknown."""
    target_eur, target_quantity = raw["objectives__target_eur"], raw["objectives__target_quantity"]
    firm, conditional = row["firm"]["announced"], row["conditional"]["announced"]
    units = {}
    for commitment in COMMITMENTS:
        quantified = raw.get(f"{commitment}_quantified") or 0
        units[commitment] = {
            "quantity": money(raw.get(f"{commitment}_quantity") or 0) if quantified else None,
            "pledges": quantified,
            "undisclosed": raw.get(f"{commitment}_undisclosed") or 0,
        }
    return {
        "is_example": raw["objectives__is_example"],
        "position": raw["objectives__position"],
        "target_eur": money(target_eur),
        "coverage_eur_percent": ratio(firm["eur"], target_eur, 100),
        "coverage_eur_complete": firm["not_valued"] == 0,
        "conditional_would_add_eur_percent": ratio(conditional["eur"], target_eur, 100),
        "shortfall_eur": money(max(Decimal(target_eur) - Decimal(firm["eur"] or 0), 0))
        if target_eur is not None else None,
        "target_quantity": money(target_quantity),
        "target_unit": raw["objectives__target_unit"] or None,
        "units": units,
        "coverage_quantity_percent": ratio(units["firm"]["quantity"], target_quantity, 100),
        "coverage_quantity_complete": units["firm"]["undisclosed"] == 0,
        "conditional_would_add_quantity_percent": ratio(units["conditional"]["quantity"], target_quantity, 100),
    }


def _timeline(selection, base, link):
    """Cumulative totals at each month's end (the last month: on the as-of day, or today)."""
    end = selection.as_of or selectors.today()
    rows = []
    for month, day, raw in selectors.timeline_rows(selection.in_view, selection.state, selection.valuation, end):
        query = {**base, "as_of": day.isoformat()}
        key = month.strftime("%Y-%m")
        row = _row(raw, key, label("month", key), query, link)
        row["as_of"] = day
        rows.append(row)
    return rows


def _items(selection, base, link):
    """Units pledged and delivered by item sub-type, for pledges announced or further along."""
    rows = []
    for raw in selectors.item_rows(selection.pledges, "sub_type", selection.as_of):
        query = {**base, "item": raw["key"], "stage": "announced"}
        rows.append({
            "key": raw["key"], "label": raw["key"], "item_type": raw["item_type"], "items": raw["items"],
            "example": raw["example"],
            "units_pledged": money(raw["pledged"]) if raw["items"] > raw["undisclosed"] + raw["unknown"] else None,
            "items_undisclosed": raw["undisclosed"], "items_not_given": raw["unknown"],
            "units_delivered": money(raw["delivered"]) if raw["delivered_items"] > raw["delivered_undisclosed"]
            else None,
            "items_delivered": raw["delivered_items"], "items_delivered_undisclosed": raw["delivered_undisclosed"],
            "pledges_url": link(query),
        })
    return rows


def cache_key(data_version, interface, grouping, audience, params, year=None):
    """A key unique to one state of the data (`selectors.data_version()`): the version, and the change
    time in case a restored backup (or a rolled-back transaction) brings an old version number back."""
    version, changed_at = data_version
    stamp = changed_at.timestamp() if changed_at else 0
    today = selectors.today().isoformat()  # "today" moves at midnight even when nothing is written
    digest = hashlib.sha256(f"{interface}|{grouping}|{sorted(params)}|{year}|{today}".encode()).hexdigest()
    return f"summary:v{version}-{stamp}:{audience}:{digest}"


def cached(key, build):
    """This process's copy first, then the cache every worker shares, else `build()` and keep it.

    Keys hold the data version, so no copy can be stale: a write changes the version and every key. The cache
    is an optimisation: when the shared one fails (down, or its table missing) the figures are built anyway."""
    document = caches["local"].get(key)
    if document is None:
        document = _shared(lambda: cache.get(key))
        if document is None:
            document = build()
            _shared(lambda: cache.set(key, document, SUMMARY_TTL))
        caches["local"].set(key, document, SUMMARY_TTL)
    return document


def _shared(operation):
    try:
        return operation()
    except Exception:  # noqa: BLE001 - any cache backend's failure (database, Redis, network) costs speed only
        logger.warning("The shared cache failed; building figures without it.", exc_info=True)
        return None



def query_key(query):
    """A selection's query (filters, valuation, date) as one sorted string: how a release files its documents."""
    return urlencode(sorted((name, value) for name, value in query.items() if value not in (None, "")))


# A release keeps its documents as JSON: these tags bring back the exact values (a Decimal's digits, a date),
# so a release's answer reads as it did on the day, in JSON, CSV and XLSX alike.
TAGS = {"decimal": (Decimal, str, Decimal),
        "date": (datetime.date, datetime.date.isoformat, datetime.date.fromisoformat),
        "datetime": (datetime.datetime, datetime.datetime.isoformat, datetime.datetime.fromisoformat)}


def frozen(value):
    """A summary document as plain JSON, every Decimal, date and time tagged with its type (thawed reverses it)."""
    if isinstance(value, dict):
        return {key: frozen(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [frozen(item) for item in value]
    for tag in ("decimal", "datetime", "date"):  # a datetime is a date too: test it first
        kind, write, _ = TAGS[tag]
        if isinstance(value, kind):
            return {"$" + tag: write(value)}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)  # a country: its code, as the API writes it


def thawed(value):
    if isinstance(value, dict):
        if len(value) == 1:
            (key, item), = value.items()
            if key.startswith("$") and key[1:] in TAGS:
                return TAGS[key[1:]][2](item)
        return {key: thawed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [thawed(item) for item in value]
    return value


def released(selection, grouping):
    """The document `selection.release` answered for this selection's query and grouping, saying which release it
    is. InvalidQuery naming `release` when the release froze none for it (other filters, a date)."""
    release = selection.release
    document = selectors.release_document(release, frozen_key(selection), grouping)
    if document is None:
        raise not_frozen(release)
    document = {**thawed(document), "release": release_stamp(release), "extends_release": None}
    for row in document["results"]:
        row["label"] = label(grouping, row["key"]) or row["label"]
    return document


def frozen_key(selection):
    return query_key({name: value for name, value in selection.query.items() if name != "release"})


def not_frozen(release):
    return UnknownRelease({"release": [
        f"Release {release.number} answers for the whole tracker, each coalition, each nation and each objective "
        "(either valuation), as it stood when cut; not with other filters or an as_of date. Its full dataset is in "
        "its downloads."]})


def check_frozen(selection):
    """InvalidQuery naming `release` when the selection's release froze no document for its query."""
    if selection.release is not None and not selectors.release_document_exists(selection.release,
                                                                               frozen_key(selection)):
        raise not_frozen(selection.release)


def release_stamp(release):
    """What a document says of the release it comes from (or, for today's data, the one it extends)."""
    if release is None:
        return None
    return {"number": release.number, "title": release.title, "cut_at": release.cut_at,
            "url": release.get_absolute_url()}
