"""The demo coalition: what DESIGN.md's report says of the European-led "coalition of the willing",
plus illustrative pledges (marked as example data) so every summary has something to show.

Facts from the report are loaded as such; anything it does not say (members it does not name, figures,
targets, years) is flagged `is_example` and shown as example data wherever it appears.
Loading is idempotent: records are found by their natural keys and only missing ones are created.
"""
import datetime
from decimal import Decimal

from django.db import transaction

from . import services
from .models import Coalition, Membership, Nation, Objective, Pledge, Source

REASON = "Demo data (load_demo)"
COALITION_SLUG = "coalition-of-the-willing"

SOURCES = {
    "joint-statement": dict(
        title="Joint statement by the leaders of ten European nations and the President of the European "
              "Commission on a multinational force for Ukraine",
        publisher="Leaders of ten European nations and the President of the European Commission",
        kind=Source.Kind.OFFICIAL_STATEMENT, is_official=True,
    ),
    "uk-pm-16-december": dict(
        title="British Prime Minister: preparations under way to deploy troops to Ukraine in the event of a "
              "ceasefire (16 December; year not stated in the report)",
        publisher="Prime Minister of the United Kingdom",
        kind=Source.Kind.OFFICIAL_STATEMENT, is_official=True,
    ),
    "duma-peacekeepers": dict(
        title="Russian State Duma officials cautiously acknowledge possible foreign peacekeeping forces in Ukraine "
              "(context, not a pledge)",
        publisher="Russian State Duma (as reported)",
        kind=Source.Kind.PRESS_REPORT, is_official=False,
    ),
    "example": dict(
        title="Illustrative example data: not a real source",
        publisher="Coalition commitment tracker demo",
        kind=Source.Kind.OTHER, is_official=False, is_example=True,
    ),
}

NATIONS = [
    # name, slug, kind, ISO code, pass-through
    ("United Kingdom", "united-kingdom", Nation.Kind.STATE, "GB", False),
    ("United States", "united-states", Nation.Kind.STATE, "US", False),
    ("EU (Commission and Council)", "eu-commission-and-council", Nation.Kind.EU_INSTITUTION, None, False),
    ("European Peace Facility", "european-peace-facility", Nation.Kind.FUND, None, True),
    ("France", "france", Nation.Kind.STATE, "FR", False),
    ("Germany", "germany", Nation.Kind.STATE, "DE", False),
    ("Poland", "poland", Nation.Kind.STATE, "PL", False),
    ("Netherlands", "netherlands", Nation.Kind.STATE, "NL", False),
    ("Denmark", "denmark", Nation.Kind.STATE, "DK", False),
    ("Norway", "norway", Nation.Kind.STATE, "NO", False),
    ("Sweden", "sweden", Nation.Kind.STATE, "SE", False),
    ("Italy", "italy", Nation.Kind.STATE, "IT", False),
]

# nation slug, role, source key, is_example. The report names only the UK (through its Prime Minister),
# the United States (supporting: the backstop) and the European Commission; the rest are illustrative.
MEMBERSHIPS = [
    ("united-kingdom", Membership.Role.LEAD, "uk-pm-16-december", True),
    ("united-states", Membership.Role.BACKSTOP, "joint-statement", False),
    ("eu-commission-and-council", Membership.Role.MEMBER, "joint-statement", False),
    ("france", Membership.Role.CO_LEAD, "example", True),
    ("germany", Membership.Role.MEMBER, "example", True),
    ("poland", Membership.Role.MEMBER, "example", True),
    ("netherlands", Membership.Role.MEMBER, "example", True),
    ("denmark", Membership.Role.MEMBER, "example", True),
    ("norway", Membership.Role.PARTNER, "example", True),
    ("sweden", Membership.Role.MEMBER, "example", True),
    ("italy", Membership.Role.OBSERVER, "example", True),
]

# slug, title, area, target quantity, unit, target EUR (targets are illustrative: the report gives none)
OBJECTIVES = [
    ("rebuild-capabilities", "Help Ukraine rebuild its military capabilities", Objective.Area.CAPABILITY,
     None, "", Decimal("2000000000")),
    ("air-superiority", "Establish air superiority (air policing)", Objective.Area.AIR, Decimal("24"), "aircraft",
     None),
    ("maritime-routes", "Secure maritime routes, including mine clearance", Objective.Area.MARITIME, Decimal("6"),
     "ships", None),
    ("operations-on-territory", "Operations on Ukrainian territory (reassurance force after a ceasefire)",
     Objective.Area.LAND, Decimal("20000"), "troops", None),
    ("training-support", "Training, technology and tactical support", Objective.Area.TRAINING, Decimal("5000"),
     "trainees", Decimal("500000000")),
]

D = datetime.date
# key, nation, kind, objectives, description, quantity, unit, undisclosed, amount, currency, conditional,
# announced, events [(status, date, delivered quantity, delivered amount in EUR)], published
PLEDGES = [
    ("uk-ceasefire-troops", "united-kingdom", Pledge.Kind.PERSONNEL, ["operations-on-territory"],
     "Troops for a reassurance force deployed to Ukraine in the event of a ceasefire.",
     None, "troops", True, None, "", "in the event of a ceasefire", D(2024, 12, 16),
     [("announced", D(2024, 12, 16), None, None)], True),
    ("uk-training", "united-kingdom", Pledge.Kind.TRAINING, ["training-support"],
     "Training programme for Ukrainian recruits.",
     Decimal("2000"), "trainees", False, Decimal("250000000"), "GBP", "", D(2025, 3, 3),
     [("announced", D(2025, 3, 3), None, None), ("committed", D(2025, 4, 10), None, None),
      ("partially_delivered", D(2025, 9, 1), Decimal("800"), None)], True),
    ("fr-air-policing", "france", Pledge.Kind.MILITARY, ["air-superiority"],
     "Fighter aircraft for air policing over western Ukraine.",
     Decimal("6"), "aircraft", False, Decimal("450000000"), "EUR", "in the event of a ceasefire", D(2025, 3, 11),
     [("announced", D(2025, 3, 11), None, None), ("committed", D(2025, 6, 2), None, None)], True),
    ("de-capabilities", "germany", Pledge.Kind.FINANCIAL, ["rebuild-capabilities"],
     "Funding for Ukraine's defence industry and repair of equipment.",
     None, "", False, Decimal("800000000"), "EUR", "", D(2025, 2, 20),
     [("committed", D(2025, 2, 20), None, None),
      ("partially_delivered", D(2025, 8, 15), None, Decimal("300000000"))], True),
    ("nl-mine-clearance", "netherlands", Pledge.Kind.MILITARY, ["maritime-routes"],
     "Mine countermeasure vessels for the Black Sea.",
     Decimal("2"), "ships", False, Decimal("150000000"), "EUR", "", D(2025, 4, 1),
     [("committed", D(2025, 4, 1), None, None), ("delivered", D(2025, 10, 1), Decimal("2"),
                                                Decimal("150000000"))], True),
    ("pl-logistics-hub", "poland", Pledge.Kind.LOGISTICAL, ["rebuild-capabilities"],
     "Logistics hub and transit for coalition equipment.",
     None, "", False, Decimal("1200000000"), "PLN", "", D(2025, 5, 5),
     [("announced", D(2025, 5, 5), None, None), ("allocated", D(2025, 7, 1), None, None)], True),
    ("dk-air-defence", "denmark", Pledge.Kind.MILITARY, ["air-superiority", "rebuild-capabilities"],
     "Air-defence systems and ammunition.",
     Decimal("4"), "systems", False, Decimal("2000000000"), "DKK", "", D(2025, 1, 15),
     [("committed", D(2025, 1, 15), None, None),
      ("partially_delivered", D(2025, 6, 30), Decimal("2"), Decimal("130000000"))], True),
    ("no-maritime", "norway", Pledge.Kind.MILITARY, ["maritime-routes"],
     "Coastal patrol vessels and crew training.",
     Decimal("3"), "ships", False, Decimal("1500000000"), "NOK", "", D(2025, 6, 12),
     [("announced", D(2025, 6, 12), None, None)], True),
    ("eu-support", "eu-commission-and-council", Pledge.Kind.FINANCIAL, ["rebuild-capabilities"],
     "Budget support for Ukraine's armed forces.",
     None, "", False, Decimal("1000000000"), "EUR", "", D(2025, 3, 6),
     [("announced", D(2025, 3, 6), None, None), ("committed", D(2025, 5, 20), None, None)], True),
    ("us-backstop", "united-states", Pledge.Kind.LOGISTICAL, ["operations-on-territory"],
     "Intelligence, airlift and air-defence backstop for the European-led force.",
     None, "", False, None, "", "in the event of a ceasefire and a European-led deployment", D(2025, 3, 1),
     [], True),
    ("se-training-cancelled", "sweden", Pledge.Kind.TRAINING, ["training-support"],
     "Instructor team for a training mission, later cancelled.",
     Decimal("50"), "instructors", False, Decimal("300000000"), "SEK", "", D(2025, 2, 10),
     [("announced", D(2025, 2, 10), None, None), ("cancelled", D(2025, 7, 7), None, None)], True),
    ("it-draft-engineers", "italy", Pledge.Kind.EXPERTISE, ["rebuild-capabilities"],
     "Engineering experts for demining (draft: awaiting review).",
     Decimal("40"), "experts", False, None, "", "", D(2025, 9, 9),
     [], False),
]


@transaction.atomic
def load_demo(stdout=None):
    """Create whatever part of the demo coalition is missing. Returns how many records were created."""
    created = 0

    def ensure(model, lookup, **fields):
        nonlocal created
        found = model.objects.filter(**lookup).first()
        if found:
            return found
        created += 1
        return services.save_record(model(**lookup, **fields), user=None, reason=REASON)

    sources = {
        key: ensure(Source, {"title": fields["title"]}, **{k: v for k, v in fields.items() if k != "title"})
        for key, fields in SOURCES.items()
    }
    coalition = ensure(
        Coalition, {"slug": COALITION_SLUG},
        name="Coalition of the willing (Ukraine)",
        description="A multinational force, led by Europe and supported by the United States, to ensure Ukraine's "
                    "long-term stability, called for in a joint statement by the leaders of ten European nations "
                    "and the President of the European Commission. It complements Ukraine's armed forces with "
                    "training, technology and tactical support; it does not replace them. Each country "
                    "contributes resources, personnel or expertise according to its capacity.",
    )
    nations = {
        slug: ensure(Nation, {"slug": slug}, name=name, kind=kind, country=code, is_pass_through=pass_through)
        for name, slug, kind, code, pass_through in NATIONS
    }
    services.add_nation_figures(nations.values(), reason=REASON)  # the World Bank's, shipped with the tracker
    for slug, role, source_key, is_example in MEMBERSHIPS:
        ensure(Membership, {"coalition": coalition, "nation": nations[slug]}, role=role,
               source=sources[source_key], is_example=is_example)
    objectives = {}
    for position, (slug, title, area, quantity, unit, eur) in enumerate(OBJECTIVES):
        objectives[slug] = ensure(
            Objective, {"coalition": coalition, "slug": slug}, title=title, capability_area=area,
            target_quantity=quantity, target_unit=unit, target_eur=eur, position=position,
            is_example=quantity is not None or eur is not None,
        )

    for (key, nation, kind, objective_keys, description, quantity, unit, undisclosed, amount, currency, condition,
         announced, events, published) in PLEDGES:
        external_id = f"demo:{key}"
        if Pledge.objects.filter(external_id=external_id).exists():
            continue
        created += 1
        with services.one_history_entry():  # the pledge, its links and its events: one history entry
            pledge = services.save_record(Pledge(
                external_id=external_id, coalition=coalition, nation=nations[nation], kind=kind,
                description=description, quantity=quantity, unit=unit, quantity_undisclosed=undisclosed, amount=amount,
                currency=currency, is_conditional=bool(condition), condition=condition, announced_on=announced,
                valuation_basis=Pledge.Valuation.REPORTED if amount is not None else Pledge.Valuation.NOT_VALUED,
                is_example=True,
            ), user=None, reason=REASON, source=sources["example"])
            cited = [sources["example"]] + ([sources["uk-pm-16-december"]] if key == "uk-ceasefire-troops" else [])
            services.set_related(pledge, "objectives", [objectives[k] for k in objective_keys], user=None,
                                 reason=REASON)
            services.set_related(pledge, "sources", cited, user=None, reason=REASON)
            for status, occurred_on, delivered_quantity, delivered_eur in events:
                services.record_status_event(
                    pledge, user=None, status=status, occurred_on=occurred_on, source=cited[-1],
                    delivered_quantity=delivered_quantity, delivered_eur=delivered_eur, reason=REASON,
                )
        if published:
            services.publish_pledge(pledge, user=None, reason=REASON, operator=True)
    return created
