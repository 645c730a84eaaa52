import pytest

from chat.bot import taxonomy as taxonomy_module
from chat.bot import taxonomy_invalidate, taxonomy_snapshot
from knowledge.models import EscalationSignal, Intent

pytestmark = pytest.mark.django_db


def test_snapshot_holds_the_active_taxonomy(db_taxonomy):
    snapshot = taxonomy_snapshot()
    assert set(snapshot.intents) == {"order_status", "return_request", "billing_dispute",
                                     "complaint", "product_question", "general_inquiry"}
    assert snapshot.intents["order_status"].required_details[0]["name"] == "order_number"
    assert snapshot.intents["billing_dispute"].escalation_policy == "always"
    titles = {a.title for a in snapshot.articles.articles}
    assert "Tracking your order" in titles
    assert "Secret draft about refunds" not in titles  # drafts are not retrieved
    assert snapshot.classifier is not None and snapshot.classifier_version == 1
    assert "Peak 2 Tent" in [name for name, _ in snapshot.products.patterns]


def test_snapshot_is_cached_between_turns(db_taxonomy, django_assert_num_queries):
    first = taxonomy_snapshot()
    with django_assert_num_queries(0):
        for _ in range(50):
            assert taxonomy_snapshot() is first


def test_invalidate_reloads_at_once(db_taxonomy):
    first = taxonomy_snapshot()
    Intent.objects.filter(slug="complaint").update(is_active=False)
    taxonomy_invalidate()
    second = taxonomy_snapshot()
    assert second is not first
    assert "complaint" not in second.intents


def test_an_edit_in_another_process_is_seen_within_the_check_interval(db_taxonomy, monkeypatch):
    first = taxonomy_snapshot()
    # Another process edits the signals (and its own cache bump does not reach ours).
    EscalationSignal.objects.create(phrase="ombudsman", category="legal")
    assert taxonomy_snapshot() is first  # still inside the interval
    monkeypatch.setattr(taxonomy_module._cache, "checked_at", 0.0)
    second = taxonomy_snapshot()
    assert second is not first
    assert second.signals.find("I will write to the ombudsman")


def test_a_fresh_snapshot_sees_another_process_at_once(db_taxonomy):
    """The playground asks for a fresh snapshot: a model a worker activated a moment ago
    answers there at once, not after the check interval."""
    from chat.bot.service import playground_turn

    first = taxonomy_snapshot()
    EscalationSignal.objects.create(phrase="ombudsman", category="legal")  # another process
    assert taxonomy_snapshot() is first
    second = taxonomy_snapshot(fresh=True)
    assert second is not first
    assert second.signals.find("I will write to the ombudsman")
    EscalationSignal.objects.create(phrase="small claims court", category="legal")
    playground_turn(text="hello")
    assert taxonomy_snapshot().signals.find("off to the small claims court")
    assert taxonomy_snapshot(fresh=True) is taxonomy_snapshot()  # unchanged: kept


def test_unchanged_tables_keep_the_snapshot_after_the_interval(db_taxonomy, monkeypatch):
    first = taxonomy_snapshot()
    monkeypatch.setattr(taxonomy_module._cache, "checked_at", 0.0)
    assert taxonomy_snapshot() is first


def test_a_broken_artifact_does_not_break_the_bot(db_taxonomy):
    from knowledge.models import ClassifierModel

    ClassifierModel.objects.filter(is_active=True).update(artifact=b"not a pickle")
    taxonomy_invalidate()
    snapshot = taxonomy_snapshot()
    assert snapshot.classifier is None
    assert snapshot.intents


def test_linking_an_article_to_an_intent_elsewhere_is_seen(db_taxonomy, monkeypatch):
    # A link between an article and an intent changes no row's updated_at: the fingerprint
    # counts the links too.
    from knowledge.models import Article

    first = taxonomy_snapshot()
    article = Article.objects.get(title="Tracking your order")
    article.intents.add(Intent.objects.get(slug="complaint"))  # another process, no bump
    monkeypatch.setattr(taxonomy_module._cache, "checked_at", 0.0)
    second = taxonomy_snapshot()
    assert second is not first
    assert "complaint" in second.articles.by_id[article.pk].intents
    article.intents.remove(Intent.objects.get(slug="complaint"))
    monkeypatch.setattr(taxonomy_module._cache, "checked_at", 0.0)
    assert "complaint" not in taxonomy_snapshot().articles.by_id[article.pk].intents


class _CacheDown:
    """The shared cache while Redis restarts: a read fails as redis-py's does (writes, as
    the tests' own clean-up makes, go to the real cache)."""

    def __getattr__(self, name):
        from django.core.cache import cache

        return getattr(cache, name)

    def get(self, *args, **kwargs):
        import redis

        raise redis.exceptions.ConnectionError("Connection reset by peer")


def test_a_cache_that_cannot_be_read_keeps_the_snapshot(db_taxonomy, monkeypatch):
    """Redis restarting mid-turn: the bot answers from the taxonomy it holds (no failed turn,
    no handoff), and an edit in the database is still seen through the fingerprint."""
    first = taxonomy_snapshot()
    monkeypatch.setattr(taxonomy_module, "cache", _CacheDown())
    monkeypatch.setattr(taxonomy_module._cache, "checked_at", 0.0)
    assert taxonomy_snapshot() is first
    EscalationSignal.objects.create(phrase="small claims court", category="legal")
    monkeypatch.setattr(taxonomy_module._cache, "checked_at", 0.0)
    assert taxonomy_snapshot().signals.find("off to the small claims court")
