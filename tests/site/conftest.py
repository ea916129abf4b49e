"""Browser tests: Playwright drives Debian's chromium (installed by `make test`) against the live server."""
import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium")
# Playwright's sync API runs an event loop in the test's thread; Django's ORM calls from the same thread
# (fixtures loading data) are safe here, as nothing else runs on that loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM:
        pytest.skip("NO CHROMIUM: browser tests skipped. Install Debian's chromium (make test does).")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"],
    }
