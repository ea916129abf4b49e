"""EUR valuation from the ECB's historical reference rates, shipped offline by the currencyconverter package.

The ECB publishes how many units of a currency one euro buys on each business day. A pledge dated on a
weekend, a holiday or after the shipped data ends takes the nearest earlier published rate, at most
MAX_RATE_AGE_DAYS old; the rate and its date are stored with the pledge so readers can check them.
"""
import bisect
import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from currency_converter import CurrencyConverter
from django.core.exceptions import ValidationError

# Older than this, a rate says more about the data file's age than about the pledge's value.
MAX_RATE_AGE_DAYS = 45
CENT = Decimal("0.01")


class NoRate(Exception):
    pass


@dataclass(frozen=True)
class Rate:
    currency: str
    rate: Decimal  # units of `currency` per 1 EUR
    date: datetime.date


@lru_cache(maxsize=1)
def _converter():
    return CurrencyConverter(decimal=True)


@lru_cache(maxsize=64)
def _published_dates(currency):
    # The converter keeps {currency: {date: rate or None}} (None on weekends and holidays);
    # a sorted list of the dates with a rate lets us find the nearest earlier one by bisection.
    return sorted(day for day, rate in _converter()._rates[currency].items() if rate is not None)


def known_currencies():
    return _converter().currencies


def validate_currency(code):
    if code and code not in known_currencies():
        raise ValidationError(
            f"Unknown currency “{code}”: use an ISO 4217 code the ECB publishes a rate for, e.g. EUR, GBP, USD.",
            code="unknown_currency",
        )


def eur_rate(currency, on=None):
    """The ECB rate for `currency` on date `on` (today if None), or the nearest earlier published one."""
    return _eur_rate(currency, on or datetime.date.today())


@lru_cache(maxsize=4096)  # an import of thousands of pledges asks for the same few hundred days again and again
def _eur_rate(currency, on):
    if currency == "EUR":
        return Rate("EUR", Decimal("1"), on)
    if currency not in known_currencies():
        raise NoRate(f"Unknown currency “{currency}”: the ECB publishes no rate for it.")
    dates = _published_dates(currency)
    index = bisect.bisect_right(dates, on) - 1
    if index < 0 or (on - dates[index]).days > MAX_RATE_AGE_DAYS:
        raise NoRate(
            f"The ECB published no {currency} rate within {MAX_RATE_AGE_DAYS} days before {on.isoformat()} "
            f"(its {currency} series runs {dates[0].isoformat()} to {dates[-1].isoformat()})."
        )
    rate_date = dates[index]
    rate = Decimal(_converter()._rates[currency][rate_date])
    return Rate(currency, rate, rate_date)


def to_eur(amount, rate):
    return (Decimal(amount) / rate.rate).quantize(CENT, rounding=ROUND_HALF_UP)
