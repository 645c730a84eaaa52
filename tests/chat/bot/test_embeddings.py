"""The sentence-embedding model and the classifier's meaning head (chat/bot/embeddings.py,
chat/bot/meaning.py), on a small invented taxonomy of a bicycle-hire shop."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from chat.bot import classifier, embeddings
from chat.bot.classifier import content_words

pytestmark = pytest.mark.skipif(not embeddings.embeddings_enabled(),
                                reason="the embedding model is not installed")

HIRE = {
    "book_hire": [
        "I want to hire a bike for saturday", "reserve two bicycles for tomorrow",
        "can I book a bike for the weekend", "I'd like to rent a mountain bike",
        "book an electric bike for friday morning", "hire a tandem for next week",
        "is a bike free to rent on sunday", "make a booking for three bikes",
    ],
    "cancel_hire": [
        "cancel my bike booking", "I no longer need the bicycles I reserved",
        "please cancel the reservation for saturday", "call off my rental",
        "I want to cancel and get the deposit back", "drop my booking for tomorrow",
        "cancel the tandem I booked", "undo my reservation please",
    ],
    "report_damage": [
        "the bike I rented has a flat tyre", "the chain broke during my ride",
        "brakes are not working on my bicycle", "I crashed and bent the wheel",
        "the gears keep slipping", "there is a puncture in the front tyre",
        "the saddle came loose", "my rental bike is damaged",
    ],
    "opening_hours": [
        "what time do you open", "when does the shop close", "are you open on sundays",
        "opening hours on bank holidays", "how late are you open tonight",
        "what are your hours", "is the shop open at 8am", "closing time on saturday",
    ],
    "lost_property": [
        "I left my helmet at your shop", "did anyone hand in a phone",
        "I lost my keys on the bike", "I forgot my jacket in the basket",
        "has a wallet been found", "I left my sunglasses behind",
        "lost a backpack after returning the bike", "did you find a water bottle",
    ],
}

# Paraphrases that share no content word with any training phrase (checked below).
PARAPHRASES = [
    ("arrange a cycle to collect this coming thursday", "book_hire"),
    ("could i get hold of two cycles to use thursday", "book_hire"),
    ("scrap what i arranged, plans changed", "cancel_hire"),
    ("we won't be coming anymore, scrap our slot", "cancel_hire"),
    ("pedal snapped off halfway round the lake", "report_damage"),
    ("steering feels wobbly and handlebar squeaks", "report_damage"),
    ("until when may customers visit", "opening_hours"),
    ("when do staff unlock the doors each day", "opening_hours"),
    ("misplaced my purse, has somebody picked it up", "lost_property"),
    ("my spectacles went missing, any sign of them", "lost_property"),
]

UNRELATED = ["tell me a joke about penguins", "what's the capital of peru",
             "qwv zzkp trrl", "recommend a good lasagne recipe"]


def _pairs() -> tuple[list[str], list[str]]:
    texts = [t for group in HIRE.values() for t in group]
    labels = [label for label, group in HIRE.items() for _ in group]
    return texts, labels


@pytest.fixture(scope="module")
def combined():
    return classifier.train(*_pairs())


@pytest.fixture(scope="module")
def words_only():
    return classifier.train(*_pairs(), use_embeddings=False)


def test_paraphrases_share_no_content_word_with_the_training_phrases():
    seen = {w for text in _pairs()[0] for w in content_words(text)}
    for text, _ in PARAPHRASES:
        assert not set(content_words(text)) & seen, text


def test_embeddings_are_384_unit_floats():
    model = embeddings.embedder()
    assert model is not None
    vectors = model.embed(["where is my bike", "a", "ünïcödé ✓ 123", ""])
    assert vectors.shape == (4, embeddings.DIMENSIONS) == (4, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert model.embed([]).shape == (0, 384)


def test_the_tokenizer_does_not_pad_and_a_message_embeds_the_same_alone_and_in_a_list():
    model = embeddings.embedder()
    ids = model.token_ids("hire a bike")
    assert 3 <= len(ids) < 10  # [CLS] words [SEP], not 128 padded tokens
    assert len(model.token_ids("word " * 400)) == embeddings.MAX_TOKENS  # truncated, not refused
    long = "I would like to know whether the bicycle I booked last month " * 5
    alone = model._run("hire a bike")
    in_list = model.embed([long, "hire a bike", "x"])[1]
    assert np.array_equal(alone, in_list)
    # And the same as without the cache.
    model._cache.clear()
    assert np.array_equal(model.embed(["x", "hire a bike"])[1], alone)


def test_similar_meanings_are_closer_than_unrelated_ones():
    model = embeddings.embedder()
    a, b, c = model.embed(["my bicycle has a puncture", "the tyre on my bike went flat",
                           "what time do you close"])
    assert a @ b > a @ c + 0.2


def test_the_cache_is_bounded(monkeypatch):
    model = embeddings.embedder()
    monkeypatch.setattr(embeddings, "CACHE_SIZE", 2)
    model._cache.clear()
    model.embed(["one", "two", "three"])
    assert list(model._cache) == ["two", "three"]
    model._cache.clear()


def test_the_model_loads_from_the_package_and_exports_without_the_network(
    tmp_path, monkeypatch, capfd
):
    """A fresh cache: the export reads the package's files only; any connection fails; no
    progress bar is written (it would flood the log of whichever process exports first)."""

    def refuse(*args, **kwargs):
        raise AssertionError("the embedding model tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("SUPPORTDESK_MODEL_CACHE", str(tmp_path))
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)
    assert embeddings.model_directory().is_dir()
    assert (embeddings.model_directory() / "model.safetensors").is_file()
    path = embeddings.onnx_model_path()
    assert path.parent == tmp_path and path.is_file()
    assert "Loading weights" not in capfd.readouterr().err
    fresh = embeddings.Embedder(path, embeddings.model_directory() / "tokenizer.json")
    cached = embeddings.embedder()
    assert cached is not None
    text = "the front brake squeals"
    assert float(fresh.embed_one(text) @ cached.embed_one(text)) > 0.999
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_the_combined_classifier_understands_paraphrases_the_words_miss(combined, words_only):
    model, metrics = combined
    plain, plain_metrics = words_only
    assert metrics["features"] == "words+embeddings" and model.features == "words+embeddings"
    assert plain_metrics["features"] == "words" and plain.meaning is None
    assert plain.features == "words"

    def right(m):
        return sum(m.predict(text)[0][0] == label for text, label in PARAPHRASES)

    assert right(model) >= len(PARAPHRASES) - 2
    assert right(model) > right(plain)
    assert metrics["meaning"]["fusion_accuracy"] >= metrics["meaning"]["word_accuracy"]


def test_in_scope_paraphrases_clear_the_threshold_and_unrelated_messages_do_not(combined):
    model, _ = combined
    kept = [model.predict(text)[0][1] >= 0.5 for text, _ in PARAPHRASES]
    assert sum(kept) >= len(PARAPHRASES) - 2
    for text in UNRELATED:
        assert model.predict(text)[0][1] < 0.5, text
    for text in ("hire a bike for sunday", "the brakes squeal and the chain slipped"):
        assert model.predict(text)[0][1] > 0.8, text


def test_top_intents_are_ranked_by_the_fused_score(combined):
    model, _ = combined
    text = "cancel my reservation"
    top = model.predict(text, top=3)
    assert len(top) == 3 and top[0][0] == "cancel_hire"
    vector = model._embedder().embed_one(text)
    fused = model.score_one(text) + model.meaning.weight * model.meaning.logits(vector[None, :])[0]
    assert [slug for slug, _ in top] == [model.classes[i] for i in np.argsort(-fused)[:3]]
    assert all(0.0 <= c <= 1.0 for _, c in top)
    assert len({slug for slug, _ in top}) == 3


def test_a_higher_confidence_does_not_reorder_the_candidates():
    # Two candidates both well in scope: the second's logit and neighbours are a little
    # higher, so its confidence is too, but the fused score decides which intent it is.
    from chat.bot.meaning import _ranked

    fused = np.array([4.0, 3.6, -0.6])
    logits = np.array([4.7, 5.5, 1.0])
    cosines = [0.59, 0.63, 0.50]
    ranked = _ranked(fused, logits, lambda c: cosines[c], np.zeros(3), np.ones(3),
                     slope=1.0, bias=0.0, n=3)
    assert [c for c, _ in ranked] == [0, 1, 2]
    assert ranked[1][1] > ranked[0][1]  # the confidence is the second's own


def test_the_artifact_round_trips_with_its_meaning_head(combined):
    model, _ = combined
    again = classifier.IntentClassifier.from_bytes(model.to_bytes())
    assert again.meaning is not None
    for text, _ in PARAPHRASES[:4]:
        before, after = model.predict(text), again.predict(text)
        assert [slug for slug, _ in after] == [slug for slug, _ in before]
        assert [c for _, c in after] == pytest.approx([c for _, c in before], abs=1e-6)
    assert "_bank32" not in again.meaning.__getstate__()


def test_without_the_embedding_model_a_stored_model_falls_back_to_its_words(
    combined, monkeypatch
):
    model, _ = combined
    data = model.to_bytes()
    monkeypatch.setenv("SUPPORTDESK_EMBEDDINGS", "0")
    assert embeddings.embedder() is None
    loaded = classifier.IntentClassifier.from_bytes(data)
    assert loaded.features == "words"
    for text in ("cancel my bike booking please", "qwv zzkp trrl"):
        assert loaded.predict(text) == loaded.predict_words(text)
    assert loaded.predict("qwv zzkp trrl")[0][1] < 0.5
    assert loaded.predict("cancel my bike booking please")[0][0] == "cancel_hire"


def test_a_missing_model_package_means_words_only(monkeypatch):
    real = embeddings.importlib.util.find_spec
    monkeypatch.setattr(
        embeddings.importlib.util, "find_spec",
        lambda name, *a: None if name == embeddings.MODEL_PACKAGE else real(name, *a),
    )
    embeddings.runtimes_installed.cache_clear()  # installed packages are looked up once
    try:
        assert not embeddings.embeddings_enabled()
        assert embeddings.embedder() is None
        model, metrics = classifier.train(*_pairs())
        assert model.meaning is None and metrics["features"] == "words"
    finally:
        embeddings.runtimes_installed.cache_clear()


def test_training_with_embeddings_turned_off_keeps_the_word_model(monkeypatch, words_only):
    monkeypatch.setenv("SUPPORTDESK_EMBEDDINGS", "0")
    model, metrics = classifier.train(*_pairs())
    assert metrics["features"] == "words" and model.meaning is None
    assert np.array_equal(model.coef, words_only[0].coef)


def test_the_pipeline_trace_names_the_features(combined, monkeypatch):
    from chat.bot.pipeline import run_turn
    from chat.bot.taxonomy import IntentInfo, taxonomy_from_data
    from chat.bot.types import TurnContext

    model, _ = combined
    intents = [IntentInfo(slug, slug.replace("_", " ")) for slug in HIRE]
    intents.append(IntentInfo("general_inquiry", "General"))
    taxonomy = taxonomy_from_data(intents=intents, signals=[], classifier=model,
                                  fallback_intent="general_inquiry")

    def decide(text):
        return run_turn(taxonomy, text=text, context=TurnContext(), use_claude=False,
                        respond=False)

    result = decide("pedal snapped off halfway round the lake")
    assert result.trace["classification"]["features"] == "words+embeddings"
    assert result.intent == "report_damage" and not result.is_fallback
    assert decide("tell me a joke about penguins").is_fallback
    monkeypatch.setenv("SUPPORTDESK_EMBEDDINGS", "0")
    assert decide("cancel my bike booking").trace["classification"]["features"] == "words"


def test_a_worker_process_loads_the_model_before_its_first_customer(monkeypatch):
    from chat import tasks

    embeddings.embedder_reset()
    monkeypatch.setattr(tasks.realtime, "use_private_loop", lambda: None)
    tasks._prepare_worker_process()
    assert embeddings._loaded.get("embedder") is not None
    monkeypatch.setenv("SUPPORTDESK_EMBEDDINGS", "0")
    embeddings.embedder_reset()
    tasks._prepare_worker_process()  # turned off: nothing loaded, nothing raised
    assert "embedder" not in embeddings._loaded
