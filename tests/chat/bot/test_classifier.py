import numpy as np
import pytest

from chat.bot import classifier

from .conftest import PHRASES, training_pairs


def test_predicts_the_intent_of_unseen_phrasings(trained):
    model, _ = trained
    assert model.predict("where is my parcel right now")[0][0] == "order_status"
    assert model.predict("I'd like to return the shoes for a refund")[0][0] == "return_request"
    assert model.predict("you charged my card twice")[0][0] == "billing_dispute"


def test_top_three_with_calibrated_confidences(trained):
    model, _ = trained
    top = model.predict("has my order shipped")
    assert len(top) == 3
    scores = [score for _, score in top]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)
    assert sum(scores) <= 1.0 + 1e-6
    assert top[0][1] > 0.5


def test_gibberish_gets_a_low_confidence(trained):
    model, _ = trained
    assert model.predict("zxq vvbn plorf")[0][1] < model.predict("where is my order")[0][1]
    assert model.predict("zxq vvbn plorf")[0][1] < 0.5


def test_fast_single_message_scores_match_the_vectorisers(trained):
    model, _ = trained
    texts = ["where is my order #123", "Refund please!!", "", "zzz"]
    assert np.allclose(model.scores(texts), np.array([model.score_one(t) for t in texts]),
                       atol=1e-4)


def test_metrics_are_cross_validated(trained):
    _, metrics = trained
    assert metrics["n_folds"] == 3
    assert 0.5 < metrics["accuracy"] <= 1
    assert 0 < metrics["macro_f1"] <= 1
    assert set(metrics["per_intent"]) == set(PHRASES)
    assert set(metrics["per_intent"]["order_status"]) == {"precision", "recall", "f1", "support"}
    assert metrics["per_intent"]["order_status"]["support"] == 10
    for pair in metrics["confusions"]:
        assert {"a", "b", "count", "examples"} <= set(pair)
        assert pair["examples"]
    assert metrics["train_seconds"] >= 0


def test_round_trips_through_bytes(trained):
    model, _ = trained
    again = classifier.IntentClassifier.from_bytes(model.to_bytes())
    assert again.predict("track my parcel") == model.predict("track my parcel")


def test_rejects_foreign_artifacts():
    import pickle

    with pytest.raises(ValueError):
        classifier.IntentClassifier.from_bytes(pickle.dumps({"format": 99}))


def test_needs_two_intents():
    with pytest.raises(ValueError, match="two intents"):
        classifier.train(["a", "b", "c"], ["x", "x", "x"])


def test_tiny_taxonomies_train_without_cross_validation():
    model, metrics = classifier.train(["where is my order", "refund please"],
                                      ["order_status", "return_request"])
    assert metrics["n_folds"] == 0
    assert metrics["accuracy"] is None
    assert model.predict("where is my order")[0][0] == "order_status"


def test_progress_is_reported_up_to_one():
    seen: list[float] = []
    classifier.train(*training_pairs(), progress=seen.append)
    assert seen[-1] == 1.0
    assert seen == sorted(seen)


def test_an_intent_with_a_single_phrase_does_not_stop_cross_validation():
    texts, labels = training_pairs()
    model, metrics = classifier.train([*texts, "gift wrap please"], [*labels, "gift_wrap"])
    assert metrics["n_folds"] == 3
    assert metrics["per_intent"]["gift_wrap"]["support"] == 1
    assert metrics["accuracy"] > 0.5
    assert "gift_wrap" in model.classes
