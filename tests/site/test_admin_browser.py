"""The editors' admin in a real browser (Debian's chromium via Playwright): every page fits the screen."""
import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command

from tracker.commitments.models import Pledge

pytestmark = pytest.mark.django_db(transaction=True)


def admin_pages():
    """The list, add and change page of every commitments model in the admin (the change page of its first row)."""
    for model in apps.get_app_config("commitments").get_models():
        if not admin.site.is_registered(model):
            continue
        base = f"/admin/commitments/{model._meta.model_name}/"
        yield base
        yield f"{base}add/"
        # the change page of its fullest row: a pledge with status events, items and sources
        first = model.objects.order_by("pk").values_list("pk", flat=True).first() if model is not Pledge else \
            Pledge.objects.get(external_id="demo:uk-training").pk
        if first is not None:
            yield f"{base}{first}/change/"
            yield f"{base}{first}/history/"


@pytest.mark.parametrize("width", [1280, 768])
def test_no_admin_page_scrolls_sideways_or_shows_a_code_like_label(live_server, page, rita, width):
    call_command("load_demo")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    visited = []
    for path in admin_pages():
        page.goto(f"{live_server.url}{path}")
        visited.append(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        # nor does a box inside it: the list's table fits its column, every header and cell in view
        hidden = page.evaluate("""[...document.querySelectorAll('#changelist .results, .inline-group .tabular')]
            .filter(box => box.scrollWidth > box.clientWidth + 1).map(box => box.className)""")
        assert hidden == [], (path, hidden)
        text = page.locator("#content").inner_text()
        assert "object (" not in text and "HISTORY_" not in text, path
    assert len(visited) >= 30
