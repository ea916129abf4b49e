import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from tracker.commitments import valuation


def test_gbp_uses_the_ecb_rate_of_the_day():
    rate = valuation.eur_rate("GBP", datetime.date(2025, 3, 3))
    assert rate.date == datetime.date(2025, 3, 3)
    assert rate.rate == Decimal("0.8253")
    assert valuation.to_eur(Decimal("250000000"), rate) == Decimal("302920150.25")


def test_weekend_date_takes_the_previous_business_days_rate():
    saturday = datetime.date(2025, 3, 1)
    rate = valuation.eur_rate("GBP", saturday)
    assert rate.date == datetime.date(2025, 2, 28)
    assert rate.rate == Decimal("0.82608")


def test_euro_is_one_to_one_on_its_own_date():
    rate = valuation.eur_rate("EUR", datetime.date(2025, 6, 1))
    assert (rate.rate, rate.date) == (Decimal("1"), datetime.date(2025, 6, 1))


def test_unknown_currency_is_a_validation_error_naming_the_code():
    with pytest.raises(ValidationError, match="XYZ"):
        valuation.validate_currency("XYZ")
    with pytest.raises(valuation.NoRate, match="XYZ"):
        valuation.eur_rate("XYZ", datetime.date(2025, 3, 3))


def test_currency_the_ecb_stopped_publishing_has_no_rate_years_later():
    # The ECB suspended the rouble in March 2022; a 2024 date must not silently take a 2022 rate.
    with pytest.raises(valuation.NoRate, match="RUB"):
        valuation.eur_rate("RUB", datetime.date(2024, 1, 1))


def test_date_before_the_series_starts_has_no_rate():
    with pytest.raises(valuation.NoRate):
        valuation.eur_rate("USD", datetime.date(1990, 1, 1))


@given(
    amount=st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False, allow_infinity=False),
    currency=st.sampled_from(["GBP", "USD", "PLN", "DKK", "NOK", "SEK", "CHF", "JPY"]),
    day=st.dates(min_value=datetime.date(2010, 1, 1), max_value=datetime.date(2026, 10, 30)),
)
def test_eur_value_uses_the_latest_rate_on_or_before_the_day_and_converts_back(amount, currency, day):
    rate = valuation.eur_rate(currency, day)
    assert day - datetime.timedelta(days=valuation.MAX_RATE_AGE_DAYS) <= rate.date <= day
    eur = valuation.to_eur(amount, rate)
    # Converting back lands within half a cent (in EUR) of the original amount.
    assert abs(eur * rate.rate - amount) <= Decimal("0.005") * rate.rate
