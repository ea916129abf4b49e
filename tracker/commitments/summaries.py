"""Summary documents: the totals every interface shows (API, reader pages, charts, downloads).

Built from `selectors.summarize`, so each figure is computed in one place. Every row says which stage it
counts, how many pledges it sums and where the pledges behind it are listed (`link` turns a filter dict
into that URL: the API links to its pledge list, the pages to theirs). Documents are cached under a key
holding the data version, which every write bumps: a repeated read runs no aggregate query and a write
shows on the very next read.
"""
import datetime
import hashlib
from decimal import ROUND_HALF_UP, Decimal

from django.core.cache import cache, caches

from . import selectors
from .models import Pledge, Status

CENT = Decimal("0.01")
SUMMARY_TTL = 24 * 3600  # the version in the key, not the TTL, keeps figures fresh
GROUPINGS = ["totals", "nation", "objective", "kind", "status", "month"]


def money(value):
    return None if value is None else Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def ratio(part, whole, scale=1):
    if part is None or not whole:
        return None
    return (Decimal(part) * scale / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _row(raw, key, label, query, link):
    committed, delivered = money(raw["committed_eur"]), money(raw["delivered_eur"])
    return {
        "key": key,
        "label": label,
        "pledges": raw["pledges"],
        "announced": {"eur": money(raw["announced_eur"]), "pledges": raw["announced_pledges"]},
        "committed": {"eur": committed, "pledges": raw["committed_pledges"]},
        "delivered": {"eur": delivered, "pledges": raw["delivered_pledges"]},
        "delivery_gap_eur": None if committed is None else committed - (delivered or 0),
        "firm_eur": money(raw["firm_eur"]),
        "conditional_eur": money(raw["conditional_eur"]),
        "conditional_pledges": raw["conditional_pledges"],
        "pledges_url": link(query),
        "extra": {},
    }


def build_summary(pledges, grouping, filters, as_of, link, year=None):
    """The summary document for a (filtered, visible) pledge queryset."""
    base = {k: str(v) for k, v in filters.items() if v not in (None, "")}
    if as_of is not None:
        base["as_of"] = as_of.isoformat()
    if grouping == "totals":
        rows = [_row(selectors.summarize(pledges, as_of=as_of), None, "All pledges", base, link)]
    else:
        rows = []
        cumulative = {"announced_eur": Decimal(0), "committed_eur": Decimal(0), "delivered_eur": Decimal(0)}
        raw_rows = selectors.summarize(pledges, by=grouping, as_of=as_of)
        figures = selectors.figures_for([r["nation__slug"] for r in raw_rows], year) if grouping == "nation" else {}
        for raw in raw_rows:
            if grouping == "nation":
                row = _row(raw, raw["nation__slug"], raw["nation__name"], {**base, "nation": raw["nation__slug"]},
                           link)
                fig = figures.get(raw["nation__slug"])
                row["extra"] = {
                    "code": raw["nation__country"], "kind": raw["nation__kind"],
                    "is_example": raw["nation__is_example"],
                    "figures_year": fig.year if fig else None,
                    "share_of_gdp_percent": ratio(raw["announced_eur"], fig.gdp_eur, 100) if fig else None,
                    "eur_per_capita": ratio(raw["announced_eur"], fig.population) if fig else None,
                    "figures_source": fig.source_id if fig else None,
                }
            elif grouping == "objective":
                row = _row(raw, raw["objectives__slug"], raw["objectives__title"],
                           {**base, "objective": raw["objectives__slug"]}, link)
                target_eur, target_quantity = raw["objectives__target_eur"], raw["objectives__target_quantity"]
                row["extra"] = {
                    "is_example": raw["objectives__is_example"],
                    "target_eur": money(target_eur),
                    "coverage_eur_percent": ratio(raw["announced_eur"], target_eur, 100),
                    "shortfall_eur": money(max(Decimal(target_eur) - Decimal(raw["announced_eur"] or 0), 0))
                    if target_eur is not None else None,
                    "target_quantity": raw["objectives__target_quantity"],
                    "target_unit": raw["objectives__target_unit"] or None,
                    "pledged_quantity": money(raw["objective_quantity"]),
                    "coverage_quantity_percent": ratio(raw["objective_quantity"] or 0, target_quantity, 100),
                }
            elif grouping == "kind":
                row = _row(raw, raw["kind"], Pledge.Kind(raw["kind"]).label, {**base, "kind": raw["kind"]}, link)
            elif grouping == "status":
                row = _row(raw, raw["state_status"], Status(raw["state_status"]).label,
                           {**base, "status": raw["state_status"]}, link)
            else:  # month
                month = raw["month"]
                key = month.strftime("%Y-%m")
                next_month = (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
                row = _row(raw, key, key, {**base, "announced_after": month.isoformat(),
                                           "announced_before": (next_month - datetime.timedelta(days=1)).isoformat()},
                           link)
                for name in cumulative:
                    cumulative[name] += Decimal(raw[name] or 0)
                row["extra"] = {f"cumulative_{name}": money(value) for name, value in cumulative.items()}
            rows.append(row)
    return {
        "grouping": grouping,
        "as_of": as_of,
        "stages": selectors.STAGE_DEFINITIONS,
        "filters": {k: v for k, v in base.items() if k != "as_of"},
        "results": rows,
    }


def cache_key(data_version, interface, grouping, audience, params, year=None):
    """A key unique to one state of the data (`selectors.data_version()`): the version, and the change
    time in case a restored backup (or a rolled-back transaction) brings an old version number back."""
    version, changed_at = data_version
    stamp = changed_at.timestamp() if changed_at else 0
    digest = hashlib.sha256(f"{interface}|{grouping}|{sorted(params)}|{year}".encode()).hexdigest()
    return f"summary:v{version}-{stamp}:{audience}:{digest}"


def cached(key, build):
    """This process's copy first, then the cache every worker shares, else `build()` and keep it.

    Keys hold the data version, so no copy can be stale: a write changes the version and every key."""
    document = caches["local"].get(key)
    if document is None:
        document = cache.get(key)
        if document is None:
            document = build()
            cache.set(key, document, SUMMARY_TTL)
        caches["local"].set(key, document, SUMMARY_TTL)
    return document
