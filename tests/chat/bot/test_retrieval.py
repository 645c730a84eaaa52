from chat.bot.retrieval import INTENT_BOOST, ArticleDoc, ArticleIndex

from .conftest import ARTICLES


def test_ranked_by_relevance_with_scores():
    index = ArticleIndex.build(ARTICLES)
    results = index.search("how long does a refund take to reach my card", limit=3)
    assert results[0]["title"] == "Returns and refunds"
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert set(results[0]) == {"id", "title", "score"}


def test_the_intent_lifts_its_articles_for_a_short_message():
    index = ArticleIndex.build(ARTICLES)
    results = index.search("it's 55102", intent="order_status")
    assert results[0]["id"] == 1
    assert results[0]["score"] >= INTENT_BOOST


def test_nothing_relevant_gives_nothing():
    index = ArticleIndex.build(ARTICLES)
    assert index.search("zebra quantum") == []
    assert ArticleIndex.build([]).search("anything") == []


def test_thousands_of_articles_are_indexed_and_found():
    docs = [ArticleDoc(i, f"Article {i}", f"Body about topic{i} and common words.", ())
            for i in range(3000)]
    docs.append(ArticleDoc(9999, "Kayak paddles", "Choosing a carbon kayak paddle.", ()))
    index = ArticleIndex.build(docs)
    assert index.search("carbon paddle for my kayak")[0]["id"] == 9999
    assert index.get(9999).title == "Kayak paddles"


def test_scores_are_the_vectorizers_cosine_similarities():
    import numpy as np

    index = ArticleIndex.build(ARTICLES)
    for query in ["how long does a refund take to reach my card", "refund refund REFUND!",
                  "it's 55102", "zebra quantum", ""]:
        expected = np.asarray((index.vectorizer.transform([query]) @ index.matrix).todense())
        assert np.allclose(index._scores(query), expected.ravel(), rtol=0, atol=1e-12)
