"""The train_classifier and evaluate_bot management commands."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from knowledge.models import ClassifierModel, EscalationSignal, Intent, TrainingPhrase

pytestmark = pytest.mark.django_db

TRAIN = {
    "order_status": ["where is my order", "track my parcel", "has my order shipped",
                     "status of my order", "when does my package arrive", "is it on the way",
                     "my order is late where is it", "tracking number please"],
    "return_request": ["I want to return this", "how do I send it back", "refund please",
                       "I want my money back", "return label", "can I exchange it",
                       "how do returns work", "send back the shoes"],
    "billing_dispute": ["I was charged twice", "wrong amount on my card", "dispute a charge",
                        "double charge", "you overcharged me", "unknown charge on my card",
                        "billed two times", "payment taken twice"],
    "general_inquiry": ["opening hours", "how can I contact you", "hello",
                        "do you take paypal", "where is your store", "hi there",
                        "what is your phone number", "good morning"],
}
DATA = [
    ("where has my parcel got to", "order_status", "0"),
    ("I'd like to send these back", "return_request", "0"),
    ("you charged my card twice", "billing_dispute", "1"),
    ("I want to talk to a human", "general_inquiry", "1"),
    ("Is this chair good for managers?", "", "0"),
    ("qwxz plorf", "general_inquiry", ""),
]


def write_csv(path, rows, header):
    import csv

    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.fixture
def train_csv(tmp_path):
    rows = [(text, slug) for slug, texts in TRAIN.items() for text in texts]
    return write_csv(tmp_path / "train.csv", rows, ["text", "intent"])


@pytest.fixture
def data_csv(tmp_path):
    return write_csv(tmp_path / "data.csv", DATA, ["text", "intent", "escalate"])


@pytest.fixture
def stored_taxonomy(db):
    for slug, texts in TRAIN.items():
        intent = Intent.objects.create(
            slug=slug, name=slug.replace("_", " ").title(),
            escalation_policy="always" if slug == "billing_dispute" else "never",
        )
        TrainingPhrase.objects.bulk_create(TrainingPhrase(intent=intent, text=t) for t in texts)
    EscalationSignal.objects.create(phrase="manager", category="human_request")


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


class Terminal(StringIO):
    """A stream that says it is an interactive terminal."""

    def isatty(self) -> bool:
        return True


def test_train_classifier_trains_and_activates(stored_taxonomy):
    out, err = run("train_classifier")
    model = ClassifierModel.objects.get()
    assert model.is_active
    assert "Classifier v1: 4 intents, 32 phrases, cross-validated accuracy" in out
    assert f"{model.metrics['accuracy']:.3f}" in out
    assert "100%" not in err  # not a terminal (a log, CI): no progress bar


@pytest.mark.parametrize(("verbosity", "shown"), [(1, True), (0, False)])
def test_train_classifier_shows_its_progress_on_a_terminal_unless_quiet(
    stored_taxonomy, verbosity, shown
):
    terminal = Terminal()
    call_command("train_classifier", stdout=StringIO(), stderr=terminal, verbosity=verbosity)
    assert ("100%" in terminal.getvalue()) is shown


def test_train_classifier_reports_a_failure(db):
    with pytest.raises(CommandError, match="failed"):
        run("train_classifier")


def test_evaluate_with_a_throwaway_model_leaves_the_database_alone(
    stored_taxonomy, train_csv, data_csv
):
    out, err = run("evaluate_bot", data_csv, "--train", train_csv, "--json")
    report = json.loads(out)
    for key in ("n", "intent_accuracy", "macro_f1", "escalation_precision", "escalation_recall",
                "fallback_recall", "p50_ms", "p99_ms"):
        assert key in report, key
    assert report["n"] == 6
    assert report["n_intent_scored"] == 3  # labelled, and not the fallback intent
    assert report["n_fallback_scored"] == 2
    assert report["n_escalation_scored"] == 5
    assert report["intent_accuracy"] == 1.0
    # The stored policy (billing always goes to a person) and the request for a person.
    assert report["escalation_recall"] == 1.0
    assert report["escalation_precision"] == 1.0  # "managers" is not a request
    assert report["fallback_recall"] >= 0.5
    assert report["p50_ms"] > 0 and report["p99_ms"] >= report["p50_ms"]
    assert report["cpu_p99_ms"] >= report["cpu_p50_ms"] > 0
    assert "evaluating" not in err and "training" not in err  # not a terminal: no bars
    assert not ClassifierModel.objects.exists()
    assert Intent.objects.count() == 4


def test_evaluate_with_a_throwaway_model_needs_no_stored_taxonomy(train_csv, data_csv):
    report = json.loads(run("evaluate_bot", data_csv, "--train", train_csv, "--json")[0])
    assert report["intent_accuracy"] == 1.0
    assert report["escalation_recall"] == 0.5  # no stored policies: only the request for a person


def test_evaluate_fallback_intent_option(train_csv, tmp_path):
    data = write_csv(tmp_path / "oos.csv", [("qwxz plorf vvbn", "oos"),
                                            ("where is my order", "order_status")],
                     ["text", "intent"])
    report = json.loads(run("evaluate_bot", data, "--train", train_csv,
                            "--fallback-intent", "oos", "--json")[0])
    assert report["fallback_intent"] == "oos"
    assert report["fallback_recall"] == 1.0
    assert report["intent_accuracy"] == 1.0
    assert report["escalation_recall"] is None


def test_evaluate_uses_the_active_model_and_prints_a_readable_report(stored_taxonomy, data_csv):
    run("train_classifier")
    out, _ = run("evaluate_bot", data_csv)
    assert "Evaluated 6 messages (active classifier v1" in out
    for words in ("intent accuracy", "macro-F1", "escalation precision", "escalation recall",
                  "fallback recall", "p50", "p99", "Per intent:", "billing_dispute"):
        assert words in out, words


def test_evaluate_without_an_active_model_says_so(stored_taxonomy, data_csv):
    with pytest.raises(CommandError, match="No active classifier"):
        run("evaluate_bot", data_csv)


def test_evaluate_rejects_bad_files(tmp_path, train_csv):
    with pytest.raises(CommandError, match="No such file"):
        run("evaluate_bot", str(tmp_path / "missing.csv"), "--train", train_csv)
    bad = write_csv(tmp_path / "bad.csv", [("x", "y")], ["message", "label"])
    with pytest.raises(CommandError, match="header"):
        run("evaluate_bot", bad, "--train", train_csv)
    wrong = write_csv(tmp_path / "wrong.csv", [("x", "y", "maybe")], ["text", "intent", "escalate"])
    with pytest.raises(CommandError, match="escalate"):
        run("evaluate_bot", wrong, "--train", train_csv)
