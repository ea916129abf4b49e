"""EUR valuation from the ECB's historical reference rates, shipped offline by the currencyconverter package.

The ECB publishes how many units of a currency one euro buys on each business day. A pledge dated on a
weekend, a holiday or after the shipped data ends takes the nearest earlier published rate, at most
MAX_RATE_AGE_DAYS old; the rate and its date are stored with the pledge so readers can check them.
"""
import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from currency_converter import CurrencyConverter, RateNotFoundError
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


def _published(currency, day):
    """The ECB's rate (units of `currency` per euro) on `day`, or None on a day it published none."""
    try:
        return _converter().convert(1, "EUR", currency, date=day)
    except RateNotFoundError:
        return None


@lru_cache(maxsize=4096)  # an import of thousands of pledges asks for the same few hundred days again and again
def _eur_rate(currency, on):
    if currency == "EUR":
        return Rate("EUR", Decimal("1"), on)
    if currency not in known_currencies():
        raise NoRate(f"Unknown currency “{currency}”: the ECB publishes no rate for it.")
    first, last = _converter().bounds[currency]
    day = min(on, last)
    while day >= first and (on - day).days <= MAX_RATE_AGE_DAYS:
        rate = _published(currency, day)
        if rate is not None:
            return Rate(currency, Decimal(rate), day)
        day -= datetime.timedelta(days=1)
    raise NoRate(
        f"The ECB published no {currency} rate within {MAX_RATE_AGE_DAYS} days before {on.isoformat()} "
        f"(its {currency} series runs {first.isoformat()} to {last.isoformat()})."
    )


@lru_cache(maxsize=256)
def average_rate(currency, year):
    """The average of the ECB's daily rates for `currency` in `year` (units per euro), or None without any."""
    first, last = _converter().bounds[currency] if currency in known_currencies() else (None, None)
    if first is None:
        return None
    day, end, rates = datetime.date(year, 1, 1), datetime.date(year, 12, 31), []
    while day <= end:
        if first <= day <= last and (rate := _published(currency, day)) is not None:
            rates.append(Decimal(rate))
        day += datetime.timedelta(days=1)
    return (sum(rates) / len(rates)).quantize(Decimal("0.000001")) if rates else None


def to_eur(amount, rate):
    return (Decimal(amount) / rate.rate).quantize(CENT, rounding=ROUND_HALF_UP)
