"""GDP and population of every country, shipped with the tracker (World Bank, World Development Indicators; see
data/README.md), for "share of GDP" and "per person" figures. GDP is converted to euros at the ECB's average US
dollar rate of its year."""
import csv
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

from . import valuation

DATA = Path(__file__).parent / "data" / "worldbank_gdp_population.csv"
SOURCE = {
    "title": "World Bank, World Development Indicators: GDP in current US dollars (NY.GDP.MKTP.CD) and population "
             "(SP.POP.TOTL); GDP converted to euros at the ECB's average rate of each year",
    "publisher": "World Bank",
    "url": "https://databank.worldbank.org/source/world-development-indicators",
    "kind": "research",
    "is_official": True,
}


@lru_cache(maxsize=1)
def world_bank():
    """{ISO alpha-2 code: [(year, GDP in US dollars, population)]}, oldest year first."""
    found = {}
    with DATA.open(newline="") as rows:
        for row in csv.DictReader(rows):
            found.setdefault(row["iso2"], []).append(
                (int(row["year"]), Decimal(row["gdp_current_usd"]), int(Decimal(row["population"]))))
    return found


def in_euros(code):
    """[(year, GDP in EUR, population)] for a country, for the years the ECB has a dollar rate for."""
    figures = []
    for year, gdp_usd, population in world_bank().get(code, []):
        rate = valuation.average_rate("USD", year)
        if rate is not None:
            figures.append((year, (gdp_usd / rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), population))
    return figures
