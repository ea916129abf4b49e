"""Full-text search over pledges: the one rule the admin, the reader pages and the API search by.

A pledge's searchable text is its description, its condition, the notes of its status events, the titles of the
sources it cites and its contributor's name. What is searched for is split into words at anything that is not a
letter or a digit (so "Air-defence" is "air defence") and lower-cased; common English words ("the", "of") are left
out. A pledge is found when each word occurs somewhere in its text as a word of the same stem ("trucks" finds
"truck"), never inside another word ("air" does not find "repair"). Found pledges carry a rank (RANK): a word in the
description counts most, then in the condition, then in a status note, then in a source's title or the
contributor's name.

PostgreSQL does this with its own full-text search (configuration 'english': the Snowball stemmer and stop words),
each word looked up through the GIN expression indexes of migration 0013 (a query uses them only if its
expressions are exactly theirs: tests/commitments/test_search.py checks the plan). SQLite approximates it: crude stems
matched at the start of words by regular expressions.

Text that holds no word to search for (only punctuation or common words), or too much (more than MAX_LENGTH
characters or MAX_WORDS words), finds nothing.
"""
import re
from functools import reduce
from operator import and_, or_

from django.db import connections
from django.db.models import Case, Exists, FloatField, OuterRef, Q, Subquery, TextField, Value, When
from django.db.models.functions import Coalesce

from .models import Pledge, StatusEvent

RANK = "search_rank"
CONFIG = "english"
MAX_LENGTH = 200
MAX_WORDS = 20
HELP = (f"words in the description, condition, status notes, contributor or cited sources' titles: the pledges with "
        f"every word (in any form: trucks finds truck); up to {MAX_LENGTH} characters and {MAX_WORDS} words, longer "
        f"finds nothing")

# PostgreSQL's English stop words (tsearch_data/english.stop), left out on SQLite too so both find the same.
STOP_WORDS = frozenset("""
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself
    it its itself they them their theirs themselves what which who whom this that these those am is are was were be
    been being have has had having do does did doing a an the and but if or because as until while of at by for
    with about against between into through during before after above below to from up down in out on off over
    under again further then once here there when where why how all any both each few more most other some such no
    nor not only own same so than too very s t can will just don should now
""".split())
WORD = re.compile(r"[^\W_]+")  # letters and digits; hyphens, apostrophes and the rest separate words

# Weights of where a word is found, as PostgreSQL's ts_rank weighs labels A, B, C and D by default.
WEIGHTS = {"description": 1.0, "condition": 0.4, "notes": 0.2, "titles": 0.1, "nation": 0.1}


def words(text):
    """The words `text` searches for: lower-cased, stop words left out, each once. Empty when there is nothing to
    search for, or too much."""
    if not text or len(text) > MAX_LENGTH or "\x00" in text:
        return []
    found = list(dict.fromkeys(word for word in WORD.findall(text.lower()) if word not in STOP_WORDS))
    return found if len(found) <= MAX_WORDS else []


def search_pledges(pledges, text, prefix=False):
    """`pledges` (a queryset, with whatever it already selects, e.g. published ones only) narrowed to those whose
    text has every word of `text`, each annotated with its rank as RANK (higher: better). With `prefix`, the last
    word also matches words it begins (for search-as-you-type)."""
    found = words(text)
    if not found:
        return pledges.annotate(**{RANK: Value(0.0, output_field=FloatField())}).none()
    if connections[pledges.db].vendor == "postgresql":
        matches, rank = _postgresql(found, prefix)
    else:
        matches, rank = _regex(found, prefix)
    return pledges.filter(*matches).annotate(**{RANK: rank})


def by_rank(pledges, *ordering):
    """Best matches first when `pledges` were searched, then `ordering` (the order otherwise)."""
    return pledges.order_by(f"-{RANK}", *ordering) if RANK in pledges.query.annotations else pledges.order_by(
        *ordering)


def _cited():
    return Pledge.sources.through.objects


def _postgresql(found, prefix):
    """One condition per word, and the rank of each pledge's whole text for all the words."""
    from django.contrib.postgres.aggregates import StringAgg
    from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

    from .models import Nation

    def query(word, last):
        # A word is letters and digits only: nothing in it is tsquery syntax.
        return SearchQuery(f"{word}:*", config=CONFIG, search_type="raw") if prefix and last else SearchQuery(
            word, config=CONFIG, search_type="plain")

    def having(word_query):
        """Ids of the pledges with the word in their description or condition, a status note, a cited source's
        title or their contributor's name: one lookup in each index, put together by UNION ALL (an OR of these
        would have PostgreSQL read every pledge)."""
        def matching(records, *columns):
            return records.alias(_text=SearchVector(*columns, config=CONFIG)).filter(_text=word_query).order_by()

        return matching(Pledge.objects, "description", "condition").values("pk").union(
            matching(StatusEvent.objects, "note").values("pledge_id"),
            matching(_cited(), "source__title").values("pledge_id"),
            Pledge.objects.filter(nation__in=matching(Nation.objects, "name").values("pk")).order_by().values("pk"),
            all=True)

    def joined(records, column):
        """The pledge's `column` of `records` (its status events or its links to sources), as one text."""
        texts = records.filter(pledge=OuterRef("pk")).order_by().values("pledge").annotate(
            _text=StringAgg(column, " ")).values("_text")
        return Coalesce(Subquery(texts), Value(""), output_field=TextField())

    queries = [query(word, i == len(found) - 1) for i, word in enumerate(found)]
    document = (SearchVector("description", weight="A", config=CONFIG)
                + SearchVector("condition", weight="B", config=CONFIG)
                + SearchVector(joined(StatusEvent.objects, "note"), weight="C", config=CONFIG)
                + SearchVector(joined(_cited(), "source__title"), weight="D", config=CONFIG)
                + SearchVector(Subquery(Nation.objects.filter(pk=OuterRef("nation_id")).values("name")), weight="D",
                               config=CONFIG))  # not nation__name: its join would stay in counts that need no rank
    return [Q(pk__in=having(word_query)) for word_query in queries], SearchRank(document, reduce(and_, queries))


# SQLite: a crude stemmer. A word's stem is matched at the start of a word, followed by one of these endings.
ENDINGS = ["", "s", "es", "e", "ed", "d", "ing", "ings", "er", "ers", "ly"]
Y_ENDINGS = ["y", "ies", "ied", "ier", "iers", "ying"]  # "supply", "supplies", "supplied"
SUFFIXES = ["ings", "ing", "ers", "er", "ed", "es", "s", "ly", "e"]  # stripped from a word, the first that fits


def crude_stem(word):
    """(stem, endings): the word without an inflection, and the endings that make it the words it stands for."""
    if len(word) <= 3 or not word.isalpha():
        return word, ENDINGS
    if word.endswith(("ies", "ied")) and len(word) >= 6:
        return word[:-3], Y_ENDINGS
    if word.endswith("y") and word[-2] not in "aeiou" and len(word) >= 5:
        return word[:-1], Y_ENDINGS
    for suffix in SUFFIXES:
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and len(stem) >= 3 and not (suffix == "s" and stem.endswith(("s", "u", "i"))):
            return stem, ENDINGS
    return word, ENDINGS


def word_pattern(word, prefix=False):
    """A regular expression (Python's, as Django gives SQLite) finding `word` as a whole word of the same stem, or
    with `prefix` at the start of a word."""
    start = r"(?<![^\W_])"
    stem, endings = crude_stem(word)
    if prefix:
        return start + re.escape(stem)
    return start + re.escape(stem) + "(?:" + "|".join(endings) + r")(?![^\W_])"


def _regex(found, prefix):
    matches, rank = [], Value(0.0, output_field=FloatField())
    for i, word in enumerate(found):
        pattern = word_pattern(word, prefix and i == len(found) - 1)
        where = {
            "description": Q(description__iregex=pattern),
            "condition": Q(condition__iregex=pattern),
            "notes": Q(Exists(StatusEvent.objects.filter(pledge=OuterRef("pk"), note__iregex=pattern))),
            "titles": Q(Exists(_cited().filter(pledge=OuterRef("pk"), source__title__iregex=pattern))),
            "nation": Q(nation__name__iregex=pattern),
        }
        matches.append(reduce(or_, where.values()))
        for name, condition in where.items():
            rank = rank + _when(condition, WEIGHTS[name])
    return matches, rank


def _when(condition, weight):
    return Case(When(condition, then=Value(weight)), default=Value(0.0), output_field=FloatField())
