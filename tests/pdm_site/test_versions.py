"""Version tokens: a cached value lives until its topic changes, in this transaction and after commit."""

import pytest
from django.db import transaction

from pdm_site import versions


def counter():
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    return calls, compute


def test_a_value_is_computed_once_until_its_topic_changes(db):
    calls, compute = counter()
    assert versions.cached("t", "k", compute, seconds=60) == 1
    assert versions.cached("t", "k", compute, seconds=60) == 1
    versions.changed("other")
    assert versions.cached("t", "k", compute, seconds=60) == 1
    versions.changed("t")
    assert versions.cached("t", "k", compute, seconds=60) == 2 and len(calls) == 2


@pytest.mark.django_db(transaction=True)
def test_a_change_renews_the_token_again_after_commit():
    with transaction.atomic():
        versions.changed("t")
        inside = versions.token("t")
    assert versions.token("t") not in (None, inside)


def test_without_a_cache_every_read_computes(db, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    _, compute = counter()
    assert [versions.cached("t", "k", compute, seconds=60) for _ in range(3)] == [1, 2, 3]
