"""The reader site in English, German, French and Ukrainian: every page and chart in each language, with no English
left in it, numbers and dates in the reader's format, and the API in English whatever the reader's language."""
import csv
import datetime
import io
import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.conf import settings

from tracker.commitments import services
from tracker.commitments.models import (
    Coalition,
    Membership,
    Nation,
    Objective,
    Pledge,
    PledgeItem,
    Release,
    Source,
    StatusEvent,
)
from tracker.site import charts

pytestmark = pytest.mark.django_db
LANGUAGES = [code for code, _ in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
# Words that read the same in every language here: file formats, codes, the languages' own names.
SAME_EVERYWHERE = {"CSV", "API", "XLSX", "SVG", "Excel", "Atom", "HHI", "EUR", "ISO", "UTC",
                   *[name for _, name in settings.LANGUAGES]}
NUMBER = re.compile(r"[€+]?\d[\d,.\u202f\xa0 ]*%?")
YEAR = re.compile(r"\b(19|20)\d\d\b")
SHOWN_ATTRIBUTES = ("title", "alt", "placeholder", "aria-label", "data-label")


class Text(HTMLParser):
    """The text a reader sees or hears: text nodes and the attributes read aloud, outside scripts and styles."""

    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        # An SVG's metadata names its format, for no reader; code (release=2) reads the same in every language.
        if tag in ("script", "style", "metadata", "code", "textarea"):
            self.skip += 1
        self.parts += [value for name, value in attrs if name in SHOWN_ATTRIBUTES and value]

    def handle_endtag(self, tag):
        if tag in ("script", "style", "metadata", "code", "textarea"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def segments(content):
    parser = Text()
    parser.feed(content.decode())
    found = set()
    for part in parser.parts:
        text = re.sub(r"\s+", " ", part).strip(" .,;:()·›→+–—-/'\"")
        if re.search(r"[^\W\d_]{2,}", text):  # words, not only figures, dates or marks
            found.add(text)
    return found


def data_text():
    """Everything editors typed or imported: names, descriptions, titles, reasons. It is shown as entered."""
    return "\n".join(data_values())


def data_values():
    values = []
    for model, fields in ((Coalition, ["name", "description"]), (Nation, ["name"]),
                          (Objective, ["title", "description", "target_unit"]),
                          (Pledge, ["description", "condition", "unit", "currency"]),
                          (Source, ["title", "publisher", "url"]), (StatusEvent, ["note"]),
                          (PledgeItem, ["name", "item_type", "sub_type"]), (Membership, ["note"]),
                          (Release, ["title", "notes"]), (Pledge.history.model, ["history_change_reason"])):
        for row in model.objects.values_list(*fields):
            values += [str(v) for v in row if v]
    return sorted(set(values), key=len, reverse=True)


@pytest.fixture
def corrected(demo, rita):
    """The demo with two releases and a correction between them: every page has something to show."""
    services.cut_release(user=rita, title="First release", notes="The demo as loaded.")
    pledge = Pledge.objects.filter(publication="published", amount__isnull=False).order_by("id").first()
    pledge.amount += Decimal("1000000")
    services.save_record(pledge, user=rita, reason="Ministry corrected the figure", source=pledge.sources.first())
    services.cut_release(user=rita, title="Second release")
    return pledge


def reader_pages(pledge):
    coalition = pledge.coalition
    objective = Objective.objects.filter(pledges__publication="published").first()
    source = pledge.sources.first()
    return ["/", f"/coalitions/{coalition.slug}/?as_of=2025-06-30", "/coalitions/", "/coalitions/compare/",
            f"/nations/{pledge.nation.slug}/", f"/coalitions/{coalition.slug}/objectives/{objective.slug}/",
            "/pledges/", "/pledges/?stage=committed&conditional=false", f"/pledges/{pledge.pk}/",
            f"/sources/{source.pk}/", "/methodology/", "/releases/", "/releases/2/",
            f"/embed/{coalition.slug}/nations/", "/?release=1"]


def shown_as_entered(text, data):
    """Data with figures around it ("24 aircraft", "Germany: 3"), a date ("Apr 2025": some month abbreviations
    are spelt alike), or words every language writes alike."""
    words = NUMBER.sub(" ", text).strip(" .,;:()·›→+–—-/'\"…")
    if not words or words in data or all(part.strip() in data for part in words.split(": ")):
        return True
    if YEAR.search(text) and len(re.findall(r"[^\W\d_]+", text)) <= 1:
        return True
    return all(word in SAME_EVERYWHERE for word in re.findall(r"[^\W\d_]+", text))


def words(text):
    return re.findall(r"[^\W\d_]+", text)


PROPER_NAMES = ["Ukraine Support Tracker"]  # a dataset's name, quoted as it is in every language


def interface_text(text, values, data):
    """A text node without what editors typed in it (a description after a nation's name, a title cut short)."""
    text = re.sub(r"\S*…", "", text)  # the word a truncation cut
    if shown_as_entered(text, data):
        return ""
    for value in [*values, *PROPER_NAMES]:
        if len(value) > 2:  # as typed, and as a text node's edge cut its closing mark
            text = text.replace(value, " | ").replace(value.rstrip(" .,;:)\"'"), " | ")
    return text


def trigrams(texts):
    """Every run of three words within one text node."""
    return {" ".join(w[i:i + 3]) for w in map(words, texts) for i in range(len(w) - 2)}


def untranslated(client, path, language, data, same):
    """Text of the English page that the translated page shows too: whole text nodes, and any three words in a
    row (an English phrase left inside a translated sentence), leaving out data and words spelt alike."""
    english = segments(client.get(path).content)
    response = client.get(f"/{language}{path}")
    assert response.status_code == 200, (language, path)
    translated = segments(response.content)
    whole = {text for text in translated & english if text not in same and not shown_as_entered(text, data)}
    values = data_values()
    phrases = trigrams(interface_text(t, values, data) for t in english) & trigrams(
        interface_text(t, values, data) for t in translated)
    return sorted(whole | {gram for gram in phrases if not set(words(gram)) <= SAME_EVERYWHERE | same})


# Translations spelt as in English: correct, not missing.
SPELT_ALIKE = {
    "de": {"Partner", "Status"},
    "fr": {"Correction", "correction", "Source", "source", "Sources", "Type", "Population", "Coalition", "Coalitions",
           "description", "condition"},
    "uk": set(),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_reader_page_is_translated_whole(client, corrected, language):
    data, same = data_text(), SPELT_ALIKE[language]
    left = {path: untranslated(client, path, language, data, same) for path in reader_pages(corrected)}
    assert {path: texts for path, texts in left.items() if texts} == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_chart_is_translated_whole(client, corrected, language):
    data, same = data_text(), SPELT_ALIKE[language]
    for name in charts.CHARTS:
        path = f"/charts/{corrected.coalition.slug}/{name}.svg"
        assert untranslated(client, path, language, data, same) == [], name


def test_a_page_reads_in_the_readers_language_with_local_numbers_and_dates(client, corrected):
    german = client.get("/de/").content.decode()
    assert '<html lang="de">' in german
    assert "Zusagen" in german or "Zusage" in german
    assert re.search(r"\d{1,3}(\.\d{3})+ €", german)  # 1.234.567 €
    french = client.get("/fr/").content.decode()
    assert re.search(r"\d{1,3}(\u202f|\xa0| )\d{3}", french)
    ukrainian = client.get("/uk/pledges/").content.decode()
    assert '<html lang="uk">' in ukrainian
    day = datetime.date(2025, 6, 30)
    assert "30 Jun 2025" in client.get("/?as_of=2025-06-30").content.decode()
    assert "30. Juni 2025" in client.get(f"/de/?as_of={day.isoformat()}").content.decode()


def test_every_page_links_to_itself_in_every_language(client, corrected):
    page = client.get("/pledges/?kind=military").content.decode()
    for code, path in (("de", "/de/pledges/?kind=military"), ("fr", "/fr/pledges/?kind=military"),
                       ("uk", "/uk/pledges/?kind=military"), ("en-gb", "/pledges/?kind=military")):
        assert f'href="{path}" hreflang="{code}"' in page


def test_the_api_answers_in_english_whatever_the_reader_reads(client, corrected):
    document = client.get("/api/v1/summaries/by-kind/", HTTP_ACCEPT_LANGUAGE="de").json()
    assert {row["label"] for row in document["results"]} <= {"Military", "Financial", "Humanitarian", "Personnel",
                                                              "Training", "Logistical", "Expertise"}
    assert client.get("/de/api/v1/summaries/totals/").status_code == 404


def test_a_release_reads_in_the_readers_language_too(client, corrected):
    page = client.get("/de/?release=1").content.decode()
    assert "Ausgabe 1" in page
    kinds = client.get("/de/?release=1").content.decode()
    assert "Militärisch" in kinds or "Militär" in kinds


def test_every_summary_download_has_its_headings_in_the_readers_language(client, corrected):
    from tracker.commitments.summaries import GROUPINGS

    for path in GROUPINGS.values():
        url = f"/api/v1/summaries/{path}/"
        def headings(language=None, url=url):
            query = {"format": "csv", **({"lang": language} if language else {})}
            return next(csv.reader(io.StringIO(client.get(url, query).content.decode())))

        keys, english = headings(), headings("en-gb")
        assert [name for name in english if "_" in name] == [], path  # every key has a name
        for language in LANGUAGES:
            translated = headings(language)
            assert len(translated) == len(keys)
            assert [h for h, e in zip(translated, english, strict=True) if h == e] == [], (path, language)
    json = client.get("/api/v1/summaries/totals/", {"lang": "de"}).json()
    assert "firm" in json["results"][0]  # JSON keys stay English
    assert client.get("/api/v1/summaries/totals/", {"lang": "xx"}).status_code == 400
    page = client.get("/de/").content.decode()
    assert "format=csv&amp;lang=de" in page and "format=csv&amp;lang" not in client.get("/").content.decode()
