"""The editors' admin in a real browser (Debian's chromium via Playwright): it fits the screen."""
import pytest
from django.core.management import call_command

from tracker.commitments.models import Pledge

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [1280, 768])
def test_the_pledge_admin_pages_never_scroll_sideways(live_server, page, rita, width):
    call_command("load_demo")
    pledge = Pledge.objects.get(external_id="demo:uk-ceasefire-troops")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    for path in ("", "add/", f"{pledge.pk}/change/", f"{pledge.pk}/history/"):
        page.goto(f"{live_server.url}/admin/commitments/pledge/{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        assert "object (" not in page.locator("#content").inner_text(), path
