"""The offline intent classifier: word and character n-grams into a linear SVM, calibrated.

Training (``train``) fits TF-IDF features (word 1-3-grams, one-letter words and digits
included, and character 1-5-grams within word boundaries, sublinear tf) and a one-vs-rest
linear SVM, cross-validates it for the metrics, and turns its scores into probabilities: a
softmax over the intents' scores and a "none of these" score, with a temperature. The "none"
score rises with the share of the message's content words that no training phrase contains
(a message about things the taxonomy never mentions is not confidently any intent); the
temperature and the base of the "none" score are fitted on held-out data: cross-validated
phrases of known intents, and phrases of intents held out of training altogether.

The confidence of an intent (what ``predict`` returns and the pipeline compares with
``BOT_CONFIDENCE_THRESHOLD``) is its probability against "none of these" alone:
P(intent) / (P(intent) + P(none)). It answers "is this message about that intent rather than
about nothing we know?" and leaves out how the rest of the probability is shared among other
intents: a message torn between two close intents (a card's arrival or its delivery
estimate) keeps a high confidence, while a message unlike any intent gets a low one. 0.5
means the intent and "none of these" are as likely as each other.

Prediction for one message is the word analyser, each word's character n-grams (remembered
per word: they never cross a word boundary) and one product with the weights: well under a
millisecond.

With the sentence-embedding model installed (``chat.bot.embeddings``), training also fits the
meaning head (``chat.bot.meaning``) on the same folds and held-out intents: the word SVM's
scores fused with a logistic regression on the message's embedding, and a confidence from three
standardised scores, fitted on held-out training phrases. ``predict`` then uses it (about 2 ms
more a message, the embedding); without the model (not installed, or
``SUPPORTDESK_EMBEDDINGS=0``) the same artifact predicts on its words with the word-only
calibration above (``predict_words``), and ``features`` says which.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from scipy import sparse
from scipy.optimize import minimize
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as STOP_WORDS
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from . import embeddings
from .meaning import MeaningHead, train_meaning
from .text import FuzzyLexicon

ARTIFACT_FORMAT = 2
SVM_C = 1.0
# How much the held-out intents count against the known ones when fitting the calibration:
# roughly the share of messages expected to fit no intent.
OUTSIDER_WEIGHT = 0.05
# Held-out intents come in this many groups, each left out of one extra model.
OUTSIDER_GROUPS = 3
MISSING_CLASS_SCORE = -10.0
# From this many training phrases the SVMs are fitted in worker processes (``_fit_many``).
PARALLEL_FIT_FROM = 2_000
# Words whose character n-grams a model remembers for ``score_one`` before it starts afresh.
WORD_CACHE_SIZE = 20_000
# How far (in SVM margin units) a message with no known content word lifts the "none" score.
UNKNOWN_WORDS_WEIGHT = 1.0
# The lowest "none" score: an intent scoring beyond the SVM's negative margin (-1) is never
# more likely than "none of these". Small taxonomies need it: with a few phrases per intent the
# held-out scores are weak, and the fit would push "none" so low that gibberish clears 0.5.
NONE_SCORE_FLOOR = -1.0
_CONTENT_RE = re.compile(r"[a-z]+")


def content_words(text: str) -> list[str]:
    return [w for w in _CONTENT_RE.findall(text.lower()) if len(w) > 2 and w not in STOP_WORDS]


def coverage(words: list[str], vocabulary: frozenset[str] | set[str]) -> float:
    """The share of ``words`` that training phrases contain (1.0 for no content words)."""
    if not words:
        return 1.0
    return sum(1 for w in words if w in vocabulary) / len(words)


@dataclass
class IntentClassifier:
    classes: list[str]
    word: TfidfVectorizer
    char: TfidfVectorizer
    coef: np.ndarray  # features x classes, float32
    intercept: np.ndarray
    temperature: float = 5.0
    none_score: float = -10.0
    vocabulary: frozenset[str] = frozenset()
    info: dict[str, Any] = field(default_factory=dict)
    # The embedding side (``chat.bot.meaning``); None for a word-only model. Models stored
    # before it existed read it from this class default.
    meaning: MeaningHead | None = None

    @property
    def features(self) -> str:
        """What ``predict`` uses now: ``"words+embeddings"`` or ``"words"`` (no meaning head,
        or the embedding model turned off or missing in this process)."""
        return "words+embeddings" if self._embedder() is not None else "words"

    def _embedder(self) -> embeddings.Embedder | None:
        return embeddings.embedder() if self.meaning is not None else None

    def _features(self, texts: list[str]) -> sparse.csr_matrix:
        return sparse.hstack(
            [self.word.transform(texts), self.char.transform(texts)], format="csr"
        )

    def scores(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._features(texts) @ self.coef) + self.intercept

    def probabilities(self, scores: np.ndarray, texts: list[str]) -> np.ndarray:
        """Calibrated class probabilities; what is missing to 1 is the "none of these" share."""
        covered = np.array([coverage(content_words(t), self.vocabulary) for t in texts])
        return _calibrated(scores, self.temperature, self._none_base(), covered)[:, :-1]

    def _none_base(self) -> float:
        # Models trained before the floor existed may hold a lower "none" score.
        return max(self.none_score, NONE_SCORE_FLOOR)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_fast", None)
        state.pop("_word_grams", None)
        state.pop("_spelling", None)
        return state

    def _known(self, word: str, embedder: embeddings.Embedder) -> bool:
        """Whether a content word is known: a training phrase's word, one typo away from one
        ("shiping", "pasword"), or a whole word of the embedding model's vocabulary."""
        if word in self.vocabulary or embedder.knows_word(word):
            return True
        spelling = self.__dict__.get("_spelling")
        if spelling is None:
            spelling = FuzzyLexicon({w: w for w in self.vocabulary})
            self.__dict__["_spelling"] = spelling
        return bool(spelling(word))

    def _fast_parts(self) -> tuple[Callable[[str], list[str]], Callable[[str], str]]:
        fast = self.__dict__.get("_fast")
        if fast is None:
            fast = (self.word.build_analyzer(), self.char.build_preprocessor())
            self.__dict__["_fast"] = fast
        return fast

    def _word_char_grams(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        """The known character n-grams of one word (columns and counts), remembered.

        ``char_wb`` n-grams never cross a word boundary, so a message's counts are the sum of
        its words' counts, and words repeat from message to message.
        """
        cache = self.__dict__.setdefault("_word_grams", {})
        found = cache.get(word)
        if found is None:
            vocabulary = self.char.vocabulary_
            counts = Counter(self.char.build_analyzer()(word))
            known = [(vocabulary[g], n) for g, n in counts.items() if g in vocabulary]
            found = (np.array([c for c, _ in known], dtype=np.int64),
                     np.array([n for _, n in known], dtype=np.float64))
            if len(cache) >= WORD_CACHE_SIZE:
                cache.clear()
            cache[word] = found
        return found

    def score_one(self, text: str) -> np.ndarray:
        """``scores([text])[0]`` without the vectorisers' per-call overhead (same numbers)."""
        analyze_words, preprocess = self._fast_parts()
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

        vocabulary = self.word.vocabulary_
        known = [(vocabulary[t], n) for t, n in Counter(analyze_words(text)).items()
                 if t in vocabulary]
        if known:
            cols = np.array([c for c, _ in known], dtype=np.int64)
            parts.append((cols, np.array([n for _, n in known], dtype=np.float64),
                          self.word.idf_[cols]))

        grams = [self._word_char_grams(w) for w in preprocess(text).split()]
        grams = [g for g in grams if len(g[0])]
        if grams:
            cols, where = np.unique(np.concatenate([c for c, _ in grams]), return_inverse=True)
            tf = np.bincount(where, weights=np.concatenate([n for _, n in grams]))
            parts.append((cols + len(vocabulary), tf, self.char.idf_[cols]))

        if not parts:
            return self.intercept.astype(np.float64)
        weights = []
        for _, tf, idf in parts:
            weight = (1.0 + np.log(tf)) * idf
            weights.append(weight / np.sqrt(weight @ weight))
        cols = np.concatenate([c for c, _, _ in parts])
        return np.concatenate(weights).astype(np.float32) @ self.coef[cols] + self.intercept

    def confidences(self, scores: np.ndarray, texts: list[str]) -> np.ndarray:
        """Each intent's probability against "none of these" alone (see the module's docstring).

        P(i) / (P(i) + P(none)) of the calibrated softmax, which is the logistic of the
        temperature times the gap between the intent's score and the "none" score.
        """
        covered = np.array([coverage(content_words(t), self.vocabulary) for t in texts])
        none = self._none_base() + UNKNOWN_WORDS_WEIGHT * (1.0 - covered)
        gap = (np.asarray(scores, dtype=np.float64) - none[:, None]) * self.temperature
        return 1.0 / (1.0 + np.exp(-np.clip(gap, -50.0, 50.0)))

    def predict(self, text: str, top: int = 3) -> list[tuple[str, float]]:
        """The ``top`` intents with their confidence (0..1), best first.

        With the meaning head and the embedding model at hand, the confidence is the meaning
        head's (``chat.bot.meaning``); otherwise the word-only calibration's.
        """
        embedder = self._embedder()
        if embedder is not None and self.meaning is not None:
            words = content_words(text)
            unknown = (sum(1 for w in words if not self._known(w, embedder)) / len(words)
                       if words else 0.0)
            ranked = self.meaning.decide(self.score_one(text), embedder.embed_one(text),
                                         unknown, top)
            return [(self.classes[c], confidence) for c, confidence in ranked]
        return self.predict_words(text, top)

    def predict_words(self, text: str, top: int = 3) -> list[tuple[str, float]]:
        """``predict`` on the word features alone (the word-only calibration)."""
        confidences = self.confidences(self.score_one(text)[None, :], [text])[0]
        best = np.argsort(-confidences, kind="stable")[:top]
        return [(self.classes[i], float(confidences[i])) for i in best]

    def predict_many(self, texts: list[str]) -> list[tuple[str, float]]:
        """The best intent and its confidence of each text (as ``predict``)."""
        return [self.predict(text, top=1)[0] for text in texts]

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        pickle.dump({"format": ARTIFACT_FORMAT, "model": self}, buffer, protocol=5)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> IntentClassifier:
        # The artifact is written by ``train`` into our own database, never taken from users.
        loaded = pickle.loads(bytes(data))  # noqa: S301
        if not isinstance(loaded, dict) or loaded.get("format") != ARTIFACT_FORMAT:
            raise ValueError("unknown classifier artifact format")
        return loaded["model"]


def _calibrated(
    scores: np.ndarray, temperature: float, none_score: float, covered: np.ndarray
) -> np.ndarray:
    """Softmax over the classes' scores and the "none of these" score, in the last column."""
    none = none_score + UNKNOWN_WORDS_WEIGHT * (1.0 - covered)
    logits = np.concatenate([scores * temperature, (none * temperature)[:, None]], axis=1)
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


def _vectorizers() -> tuple[TfidfVectorizer, TfidfVectorizer]:
    # One-letter words and digits count ("i", "a", "2"): +0.2 points of accuracy in 5-fold
    # cross-validation on Banking77's training file (+0.3 on its test file).
    word = TfidfVectorizer(
        ngram_range=(1, 3), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b", dtype=np.float32
    )
    char = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True, min_df=2, dtype=np.float32
    )
    return word, char


def _svm() -> LinearSVC:
    # A fixed seed: liblinear shuffles the rows, and the same data should give the same model.
    return LinearSVC(C=SVM_C, random_state=0)


def _fit_many(
    features: sparse.csr_matrix,
    labels: np.ndarray,
    row_sets: list[np.ndarray],
    fitted_one: Callable[[], None] = lambda: None,
) -> list[LinearSVC | None]:
    """One SVM per set of training rows (None where the rows hold fewer than two intents).

    liblinear draws its shuffles from the C library's one random state, so fits on several
    threads at once would not give the same model twice. From ``PARALLEL_FIT_FROM`` phrases
    the fits run in worker processes instead (joblib's default process backend), each with a
    random state of its own: the same models as one after another, on every core. Below it,
    starting the processes would cost more than the fits. ``fitted_one`` is called as each fit
    ends, in order (for progress).
    """
    jobs = [rows for rows in row_sets if len(set(labels[rows])) >= 2]
    processes = min(len(jobs), os.cpu_count() or 1)
    if processes > 1 and features.shape[0] >= PARALLEL_FIT_FROM:
        fits = Parallel(n_jobs=processes, return_as="generator")(
            # The estimator's own ``fit``: a worker process imports scikit-learn only (this
            # module's package needs Django set up).
            delayed(_svm().fit)(features[rows], labels[rows]) for rows in jobs
        )
    else:
        fits = (_svm().fit(features[rows], labels[rows]) for rows in jobs)
    models = []
    for rows in row_sets:
        models.append(next(fits) if len(set(labels[rows])) >= 2 else None)
        fitted_one()
    return models


def _decision(
    model: LinearSVC, features: sparse.csr_matrix, n_classes: int | None = None
) -> np.ndarray:
    """One score per class, also for two classes (where LinearSVC gives a single column).

    With ``n_classes``, the columns are those of all the classes: a class the model never saw
    (a fold without its only phrases) gets a score far below any other.
    """
    scores = model.decision_function(features)
    scores = np.c_[-scores, scores] if scores.ndim == 1 else scores
    if n_classes is None or scores.shape[1] == n_classes:
        return scores
    full = np.full((scores.shape[0], n_classes), MISSING_CLASS_SCORE)
    full[:, model.classes_] = scores
    return full


def _fit_calibration(
    held_out: np.ndarray,
    labels: np.ndarray,
    held_out_coverage: np.ndarray,
    outsiders: list[tuple[np.ndarray, np.ndarray]],
) -> tuple[float, float]:
    """Temperature and "none" score maximising the likelihood of the held-out answers.

    ``held_out`` are cross-validated scores of known intents (the right answer is the label);
    ``outsiders`` are (scores, coverage) of phrases whose intent was left out of training (the
    right answer is "none of these").
    """
    rows = np.arange(len(labels))

    def loss(params: np.ndarray) -> float:
        temperature, none_score = params[0], max(params[1], NONE_SCORE_FLOOR)
        if temperature <= 0:
            return 1e9
        inside = _calibrated(held_out, temperature, none_score, held_out_coverage)
        total = -np.log(inside[rows, labels] + 1e-12).mean()
        if outsiders:
            outside = np.mean(
                [np.log(_calibrated(s, temperature, none_score, c)[:, -1] + 1e-12).mean()
                 for s, c in outsiders]
            )
            total -= OUTSIDER_WEIGHT * outside
        return float(total)

    result = minimize(loss, np.array([5.0, -0.5]), method="Nelder-Mead",
                      options={"xatol": 1e-3, "fatol": 1e-5, "maxiter": 400})
    temperature, none_score = result.x
    if not outsiders:
        none_score = min(none_score, -1.0)
    return float(max(temperature, 0.1)), float(max(none_score, NONE_SCORE_FLOOR))


def train(
    texts: list[str],
    labels: list[str],
    *,
    n_folds: int = 3,
    progress: Callable[[float], None] | None = None,
    seed: int = 0,
    use_embeddings: bool | None = None,
) -> tuple[IntentClassifier, dict[str, Any]]:
    """Train on (text, intent) pairs; returns the model and its cross-validated metrics.

    With the embedding model at hand (``use_embeddings`` None: whenever
    ``chat.bot.embeddings.embedder()`` gives one) and enough data for held-out intents
    (cross-validation and four intents or more), the model also gets its meaning head; its
    word-only calibration is kept for processes without the embedding model. ``metrics``
    says which in ``"features"``.
    """
    started = time.perf_counter()
    report = progress or (lambda fraction: None)
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError("Training needs phrases for at least two intents.")
    index = {slug: i for i, slug in enumerate(classes)}
    y = np.array([index[label] for label in labels])
    counts = Counter(labels)
    # Intents with fewer phrases than folds are still cross-validated (they miss from some
    # folds' training); there must be some intent with a phrase in every fold.
    folds = min(n_folds, max(counts.values()))

    embedder = None
    if (use_embeddings or use_embeddings is None) and folds >= 2 and len(classes) >= 4:
        embedder = embeddings.embedder()
    word, char = _vectorizers()
    features = sparse.hstack([word.fit_transform(texts), char.fit_transform(texts)], format="csr")
    # Embedding the phrases costs about as much as all the SVMs together.
    embedding_steps = folds + OUTSIDER_GROUPS if embedder is not None else 0
    # Vectorising, the SVMs (folds, held-out groups, final), embedding, the meaning head's fits.
    steps = 1 + folds + OUTSIDER_GROUPS + 1 + 2 * embedding_steps
    done = 1
    report(done / steps)
    vectors = None
    if embedder is not None:
        chunks = [texts[i:i + 500] for i in range(0, len(texts), 500)]
        parts = []
        for number, chunk in enumerate(chunks, 1):
            parts.append(embedder.embed(chunk))
            report((done + embedding_steps * number / len(chunks)) / steps)
        vectors = np.vstack(parts)
        done += embedding_steps
    meaning_folds: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    meaning_outsiders: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    words = [content_words(t) for t in texts]
    held_out = np.zeros((len(y), len(classes)), dtype=np.float64)
    held_out_coverage = np.ones(len(y))
    # Every SVM at once (``_fit_many``): the cross-validation folds', the ones with a group of
    # intents held out of training altogether (how the model scores what it does not know),
    # and the final one on every phrase.
    splits: list[tuple[np.ndarray, np.ndarray]] = []
    if folds >= 2:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The least populated class")
            splits = list(splitter.split(features, y))
    rng = np.random.RandomState(seed)
    groups = (np.array_split(rng.permutation(len(classes)), OUTSIDER_GROUPS)
              if len(classes) >= 4 else [])
    insides = [np.where(~np.isin(y, group))[0] for group in groups]

    def fitted_one() -> None:
        nonlocal done
        done += 1
        report(done / steps)

    *fitted, final = _fit_many(
        features, y, [rows for rows, _ in splits] + insides + [np.arange(len(y))], fitted_one
    )
    fold_models, group_models = fitted[:len(splits)], fitted[len(splits):]

    for (train_rows, test_rows), fold_model in zip(splits, fold_models, strict=True):
        if fold_model is None:
            held_out[test_rows] = 0.0
            continue
        held_out[test_rows] = _decision(fold_model, features[test_rows], len(classes))
        meaning_folds.append((train_rows, test_rows, held_out[test_rows]))
        known = {w for row in train_rows for w in words[row]}
        held_out_coverage[test_rows] = [coverage(words[row], known) for row in test_rows]
    predicted = held_out.argmax(axis=1)

    outsiders: list[tuple[np.ndarray, np.ndarray]] = []
    for group, group_model in zip(groups, group_models, strict=True):
        outside = np.isin(y, group)
        if group_model is None:
            continue
        sample = np.where(outside)[0]
        sample = rng.choice(sample, min(len(sample), max(50, len(y) // 6)), replace=False)
        known = {w for row in np.where(~outside)[0] for w in words[row]}
        outsiders.append((_decision(group_model, features[sample]),
                          np.array([coverage(words[row], known) for row in sample])))
        meaning_outsiders.append((np.where(~outside)[0], sample,
                                  _decision(group_model, features[sample], len(classes))))

    if folds >= 2:
        temperature, none_score = _fit_calibration(held_out, y, held_out_coverage, outsiders)
    else:
        temperature, none_score = 5.0, -1.0

    coef = final.coef_.T.astype(np.float32)
    intercept = final.intercept_.astype(np.float32)
    if len(classes) == 2:  # LinearSVC gives one column for two classes
        coef = np.concatenate([-coef, coef], axis=1)
        intercept = np.array([-intercept[0], intercept[0]], dtype=np.float32)
    model = IntentClassifier(
        classes=classes, word=word, char=char, coef=coef, intercept=intercept,
        temperature=temperature, none_score=none_score,
        vocabulary=frozenset(w for row in words for w in row),
    )
    meaning_figures: dict[str, Any] = {}
    if vectors is not None and meaning_outsiders:
        def step() -> None:
            nonlocal done
            done += 1
            report(done / steps)

        model.meaning, decided, meaning_figures = train_meaning(
            vectors, y, len(classes), meaning_folds, meaning_outsiders, step
        )
        predicted = np.where(decided >= 0, decided, predicted)
    seconds = time.perf_counter() - started
    metrics = _metrics(texts, y, predicted, classes, folds) if folds >= 2 else {
        "accuracy": None, "macro_f1": None, "per_intent": {}, "confusions": [],
    }
    metrics["features"] = "words+embeddings" if model.meaning is not None else "words"
    if meaning_figures:
        metrics["meaning"] = meaning_figures
    metrics.update({
        "n_folds": folds if folds >= 2 else 0,
        "train_seconds": round(seconds, 2),
        "temperature": round(temperature, 4),
        "none_score": round(none_score, 4),
        "n_phrases": len(texts),
        "n_intents": len(classes),
    })
    model.info = {"metrics": {k: metrics[k] for k in ("accuracy", "macro_f1", "n_folds",
                                                       "features")}}
    report(1.0)
    return model, metrics


def _metrics(
    texts: list[str], y: np.ndarray, predicted: np.ndarray, classes: list[str], folds: int
) -> dict[str, Any]:
    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=range(len(classes)), zero_division=0
    )
    per_intent = {
        slug: {"precision": round(float(precision[i]), 4), "recall": round(float(recall[i]), 4),
               "f1": round(float(f1[i]), 4), "support": int(support[i])}
        for i, slug in enumerate(classes)
    }
    pairs: dict[tuple[str, str], list[str]] = {}
    for text, truth, guess in zip(texts, y, predicted, strict=True):
        if truth != guess:
            a, b = sorted((classes[truth], classes[guess]))
            pairs.setdefault((a, b), []).append(text)
    confusions = [
        {"a": a, "b": b, "count": len(examples), "examples": examples[:3]}
        for (a, b), examples in sorted(pairs.items(), key=lambda item: -len(item[1]))[:10]
    ]
    return {
        "accuracy": round(float((predicted == y).mean()), 4),
        "macro_f1": round(float(f1_score(y, predicted, average="macro", zero_division=0)), 4),
        "per_intent": per_intent,
        "confusions": confusions,
    }
