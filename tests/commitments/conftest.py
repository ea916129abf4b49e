import pytest

from tests.factories import CoalitionFactory, NationFactory, SourceFactory


@pytest.fixture
def world():
    """A coalition, the United Kingdom and a source: enough to add a pledge."""
    coalition = CoalitionFactory(name="Coalition of the willing")
    return {
        "coalition": coalition,
        "uk": NationFactory(name="United Kingdom", country="GB"),
        "source": SourceFactory(title="Prime Minister's statement"),
    }
