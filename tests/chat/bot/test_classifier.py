import numpy as np
import pytest

from chat.bot import classifier

from .conftest import PHRASES, training_pairs


def test_predicts_the_intent_of_unseen_phrasings(trained):
    model, _ = trained
    assert model.predict("where is my parcel right now")[0][0] == "order_status"
    assert model.predict("I'd like to return the shoes for a refund")[0][0] == "return_request"
    assert model.predict("you charged my card twice")[0][0] == "billing_dispute"


def test_top_three_with_their_confidences_best_first(trained):
    model, _ = trained
    top = model.predict("has my order shipped")
    assert len(top) == 3
    assert top[0][0] == "order_status"
    assert len({slug for slug, _ in top}) == 3
    scores = [score for _, score in top]
    assert all(0 <= s <= 1 for s in scores)
    assert top[0][1] > 0.5
    # The best is the intent that the message is about; the others are runners-up, each
    # with its own confidence (tests/chat/bot/test_embeddings.py pins their order).
    assert top[0][1] > min(scores[1:])


def test_confidence_is_the_intent_against_none_of_these(trained):
    """Pins the meaning of the confidence that BOT_CONFIDENCE_THRESHOLD is compared with."""
    model, _ = trained
    texts = ["has my order shipped", "zxq vvbn plorf", "refund for the tent"]
    scores = model.scores(texts)
    probs = model.probabilities(scores, texts)
    none = 1.0 - probs.sum(axis=1, keepdims=True)
    assert np.allclose(model.confidences(scores, texts), probs / (probs + none), atol=1e-6)
    for text, row in zip(texts, model.confidences(scores, texts), strict=True):
        best = int(row.argmax())
        assert model.predict_words(text)[0] == (model.classes[best],
                                                pytest.approx(row[best], abs=1e-5))


def test_an_ambiguous_in_scope_message_keeps_its_confidence():
    """Two close intents share the probability; the confidence still clears the threshold."""
    phrases = {
        "card_arrival": [
            "my new card has not come yet", "the card you posted never reached me",
            "still waiting for my card in the mail", "card has not shown up at my house",
            "my card did not arrive", "where is the card you sent me",
        ],
        "card_delivery_estimate": [
            "how long until my card comes", "when should my card get here",
            "how many days does the card take to come", "expected delivery time for a card",
            "when will the card be delivered", "how soon will my card arrive",
        ],
        "exchange_rate": [
            "what rate do you use for euros", "the exchange rate looks wrong",
            "how do you convert dollars to pounds", "which currency rate applies",
            "your conversion rate is bad", "exchange rate for yen today",
        ],
        "change_pin": [
            "I want a new pin", "how do I change my pin", "reset the pin on my card",
            "can I pick a different pin", "update my pin number", "my pin needs changing",
        ],
    }
    texts = [text for group in phrases.values() for text in group]
    labels = [label for label, group in phrases.items() for _ in group]
    model, _ = classifier.train(texts, labels)
    ambiguous = "my card has not come, when will it come"
    top = model.predict(ambiguous)
    assert {top[0][0], top[1][0]} == {"card_arrival", "card_delivery_estimate"}
    probs = np.sort(model.probabilities(model.scores([ambiguous]), [ambiguous])[0])[::-1]
    assert probs[0] < 0.8 and probs[1] > 0.2  # the probability is split between the two
    # The confidence is not: it is either of them, not "none" (words alone, and with the
    # embeddings, whose other scores are split between the two as well).
    assert model.predict_words(ambiguous)[0][1] > 0.95
    assert top[0][1] > 0.7
    for unknown in ("recommend a good lasagne recipe for dinner", "zxq vvbn plorf"):
        assert model.predict(unknown)[0][1] < 0.5


def test_gibberish_gets_a_low_confidence(trained):
    model, _ = trained
    assert model.predict("zxq vvbn plorf")[0][1] < model.predict("where is my order")[0][1]
    assert model.predict("zxq vvbn plorf")[0][1] < 0.5


def test_a_model_with_a_none_score_below_the_floor_still_sends_gibberish_away(trained):
    """Artifacts trained before the floor keep loading; their "none" score is raised to it."""
    model, _ = trained
    older = classifier.IntentClassifier.from_bytes(model.to_bytes())
    older.none_score = classifier.NONE_SCORE_FLOOR - 2.0
    assert older.predict_words("zxq vvbn plorf")[0][1] < 0.5
    # none at the floor
    assert older.predict_words("zxq vvbn plorf") == model.predict_words("zxq vvbn plorf")
    texts = ["zxq vvbn plorf"]
    probs = older.probabilities(older.scores(texts), texts)
    none = 1.0 - probs.sum(axis=1, keepdims=True)
    assert np.allclose(older.confidences(older.scores(texts), texts), probs / (probs + none))


def test_one_letter_words_and_digits_are_word_features(trained):
    model, _ = trained
    assert {"i", "i want", "i was charged"} <= set(model.word.vocabulary_)


def test_training_is_reproducible():
    first, _ = classifier.train(*training_pairs())
    second, _ = classifier.train(*training_pairs())
    assert np.array_equal(first.coef, second.coef)
    assert (first.temperature, first.none_score) == (second.temperature, second.none_score)


def test_fast_single_message_scores_match_the_vectorisers(trained):
    model, _ = trained
    texts = ["where is my order #123", "Refund please!!", "", "zzz",
             "refund refund REFUND\tplease  please", "ÜBER   café\n#123"]
    # Twice: the second pass reads the words' character n-grams from the model's memory.
    for _ in range(2):
        assert np.allclose(model.scores(texts), np.array([model.score_one(t) for t in texts]),
                           atol=1e-4)


def test_word_memory_is_bounded_and_not_pickled(trained, monkeypatch):
    model, _ = trained
    monkeypatch.setattr(classifier, "WORD_CACHE_SIZE", 3)
    model.__dict__.pop("_word_grams", None)
    expected = model.scores(["one two three four five refund"])[0]
    assert np.allclose(model.score_one("one two three four five refund"), expected, atol=1e-4)
    assert 0 < len(model.__dict__["_word_grams"]) <= 3
    restored = classifier.IntentClassifier.from_bytes(model.to_bytes())
    assert "_word_grams" not in restored.__dict__
    assert np.allclose(restored.score_one("one two three four five refund"), expected, atol=1e-4)


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


def test_fits_in_worker_processes_give_the_models_of_one_after_another(monkeypatch):
    # Large trainings fit their SVMs in worker processes; each has its own liblinear random
    # state, so the models must be exactly those of fits one after another.
    sequential, _ = classifier.train(*training_pairs(), use_embeddings=False)
    monkeypatch.setattr(classifier, "PARALLEL_FIT_FROM", 0)
    monkeypatch.setattr(classifier.os, "cpu_count", lambda: 2)
    used = []
    real = classifier.Parallel

    def spy(*args, **kwargs):
        used.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(classifier, "Parallel", spy)
    parallel, _ = classifier.train(*training_pairs(), use_embeddings=False)
    assert used and used[0]["n_jobs"] == 2
    assert np.array_equal(sequential.coef, parallel.coef)
    assert np.array_equal(sequential.intercept, parallel.intercept)
    assert (sequential.temperature, sequential.none_score) == (
        parallel.temperature, parallel.none_score)
