import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

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
