"""Donor names, as datasets write them, to nations: ISO codes, English short names, aliases and EU bodies.

Names are resolved against the nations already in the tracker first (by name, slug or ISO code), then
against ISO 3166-1 (django-countries knows "Czech Republic", "South Korea", "Turkey", "Taiwan", ...),
then against the bodies below. A name that none of these knows is an error, never a guess.
"""
from dataclasses import dataclass

from django_countries import countries

from ..models import Nation, NationKind
from .rows import unique_slug


@dataclass(frozen=True)
class Body:
    name: str
    kind: str
    is_pass_through: bool = False


EU = Body("EU (Commission and Council)", NationKind.EU_INSTITUTION)
EPF = Body("European Peace Facility", NationKind.FUND, is_pass_through=True)
EIB = Body("European Investment Bank", NationKind.EU_INSTITUTION)

# Spellings datasets use that ISO's names do not cover, to an ISO code or a body.
ALIASES = {
    "united states": "US", "usa": "US", "u.s.": "US", "united states of america": "US",
    "uk": "GB", "great britain": "GB", "britain": "GB",
    "the netherlands": "NL", "holland": "NL", "slovak republic": "SK", "republic of korea": "KR", "korea": "KR",
    "czechia": "CZ", "türkiye": "TR", "turkiye": "TR", "republic of moldova": "MD", "kosovo": "XK",
    "eu (commission and council)": EU, "european union": EU, "eu": EU, "european commission": EU,
    "eu institutions": EU, "european union (commission and council)": EU,
    "european peace facility": EPF, "epf": EPF,
    "european investment bank": EIB, "eib": EIB,
}


def _key(name):
    return " ".join(str(name).split()).casefold()


class NationIndex:
    """Every nation in the tracker, found by name, slug or code; unknown ones planned for creation."""

    def __init__(self, nations=None):
        self.by_key = {}
        self.by_code = {}
        self.slugs = set()
        self.new = {}  # key -> unsaved Nation
        for nation in Nation.objects.all() if nations is None else nations:
            self._index(nation)

    def _index(self, nation):
        self.by_key[_key(nation.name)] = nation
        self.by_key[_key(nation.slug)] = nation
        self.slugs.add(nation.slug)
        if nation.country:
            self.by_code[nation.country.code] = nation

    def resolve(self, name, code="", kind="", pass_through=None):
        """The Nation for a donor name (and optional ISO code); a new unsaved one if it is a known country
        or body not yet in the tracker, or a body of the given `kind` (not a state). Raises LookupError with a
        message naming the donor otherwise."""
        code = (code or "").strip().upper()
        if code:
            if code in self.by_code:
                return self.by_code[code]
            if code not in dict(countries) and code != "XK":
                raise LookupError(f"“{code}” is not an ISO 3166-1 alpha-2 country code")
            return self._new_state(code, name)
        key = _key(name)
        if not key:
            raise LookupError("no nation given")
        if key in self.by_key:
            return self.by_key[key]
        target = ALIASES.get(key)
        if target is None:
            if len(key) == 2 and key.upper() in dict(countries):
                target = key.upper()
            else:
                target = countries.by_name(name.strip()) or None
        if isinstance(target, Body):
            return self.by_key.get(_key(target.name)) or self._new_body(target)
        if target:
            return self.by_code.get(target) or self._new_state(target, name)
        if kind and kind != NationKind.STATE:
            return self._new_body(Body(" ".join(name.split())[:200], kind, bool(pass_through)))
        raise LookupError(f"no nation, country or known body is called “{name}”: add it in the admin first, "
                          "give its ISO code, or (for a body that is not a state) its nation_kind")

    def _new_state(self, code, name):
        name = " ".join((name or "").split()) or str(countries.name(code)) or code
        if _key(name) in self.by_key:  # the name belongs to another nation: use the ISO name instead
            name = f"{countries.name(code) or name} ({code})"
        nation = Nation(name=name, slug=self._slug(name), kind=NationKind.STATE, country=code)
        self.by_code[code] = nation
        self.by_key[_key(name)] = nation
        self.new[code] = nation
        return nation

    def _new_body(self, body):
        nation = Nation(name=body.name, slug=self._slug(body.name), kind=body.kind,
                        is_pass_through=body.is_pass_through)
        self.by_key[_key(body.name)] = nation
        self.new[body.name] = nation
        return nation

    def _slug(self, name):
        return unique_slug(name, self.slugs, fallback="nation")
