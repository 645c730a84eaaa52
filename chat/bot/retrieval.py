"""Retrieval of published knowledge-base articles: TF-IDF over title and body, ranked.

Two TF-IDF spaces: words (and word pairs), and character 3-5-grams within words, so that a
misspelt word ("retrun", "pasword") still meets the article's spelling. An article's text
score is the mean of its two cosine similarities to the message.

The index is built once per taxonomy snapshot; a query is one sparse product over the rows of
its terms, so ranking thousands of articles takes well under a millisecond.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from .embeddings import embedder
from .text import FuzzyLexicon, english_words, tokens

_MARKDOWN_NOISE = re.compile(r"[#*_`>|]+|\[([^\]]*)\]\([^)]*\)")
_WORD = re.compile(r"\w+")
INTENT_BOOST = 0.25
MIN_SCORE = 0.05  # an article scoring less (boost included) is not listed by ``search``
# Choosing among an intent's own articles, the cosine of the sentence embeddings of the message
# and of each article's gist (``_gist``) is added with this weight to the text score: the words
# of "how long do I have to return stuff" ("long", "return") match a refund article as well as
# the returns policy; the meaning of the policy's gist matches better.
GIST_MEANING_WEIGHT = 0.5
# What is embedded of an article: its title and the start of its text (about one paragraph,
# well inside the model's 256-token window).
GIST_CHARS = 300


# A term an article defines: a line (a list item or not) that opens with it in bold, then a
# colon or a dash ("- **Packing**: our warehouse team is picking your items"), or a table row
# whose first cell is bold ("| **Shipped** | with the carrier |").
_DEFINED = re.compile(
    r"^[ \t]*(?:[-*+][ \t]+|\d{1,2}[.)][ \t]+)?\*\*([^*\n]{2,40}?)\*\*"
    r"[ \t]*(?::|\u2014|\u2013|-[ \t])"
    r"|^[ \t]*\|[ \t]*\*\*([^*|\n]{2,40}?)\*\*[ \t]*\|",
    re.MULTILINE,
)


def defined_terms(body: str) -> list[str]:
    """The terms an article's Markdown ``body`` defines (see ``_DEFINED``), lower-cased with
    single spaces, in order: ``["received", "packing", ...]`` for a list of statuses."""
    terms = (" ".join((m.group(1) or m.group(2)).lower().split()) for m in _DEFINED.finditer(body))
    return list(dict.fromkeys(t for t in terms if _WORD.search(t)))


def _term_pattern(term: str) -> str:
    """A regular expression for ``term`` as whole words, any run of spaces between them."""
    return r"(?<!\w)" + r"\s+".join(map(re.escape, term.split())) + r"(?!\w)"


@dataclass(frozen=True)
class ArticleDoc:
    id: int
    title: str
    body: str
    intents: tuple[str, ...] = ()

    @property
    def plain_body(self) -> str:
        return markdown_to_text(self.body)


def _gist(article: ArticleDoc) -> str:
    """An article's title and the start of its text, as embedded for ``gist_meaning``."""
    return f"{article.title}. {' '.join(article.plain_body.split())[:GIST_CHARS]}"


def content_words(text: str) -> str:
    """``text`` lower-cased without English stop words, for the character n-grams: the
    n-grams of "your", "when" or "want" would otherwise outweigh a misspelt "contcat"."""
    return " ".join(w for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS)


def markdown_to_text(markdown: str) -> str:
    """Markdown reduced to its words for indexing: link texts kept, markup dropped (a space,
    so that ``SPRING_SALE_25`` reads as three words), lines kept."""
    return _MARKDOWN_NOISE.sub(lambda m: m.group(1) or " ", markdown)


@dataclass
class ArticleIndex:
    articles: list[ArticleDoc]
    vectorizer: TfidfVectorizer | None = None
    matrix: object = None
    intent_rows: dict[str, np.ndarray] = field(default_factory=dict)
    by_id: dict[int, ArticleDoc] = field(default_factory=dict)
    char_vectorizer: TfidfVectorizer | None = None
    char_matrix: object = None
    _analyzer: object = field(default=None, repr=False, compare=False)
    _char_analyzer: object = field(default=None, repr=False, compare=False)
    # The last query's text scores: the pipeline ranks and then picks the intent's best
    # article for the same message.
    _last: tuple[str, np.ndarray] | None = field(default=None, repr=False, compare=False)
    # The articles' words, for reading a misspelt query word as the known word one typo away.
    _spelling: FuzzyLexicon | None = field(default=None, repr=False, compare=False)
    # Gist embeddings by row, computed when an intent's articles are first compared.
    _gist_vectors: dict[int, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    # (term, pattern finding it in a message, row) for each term an article defines.
    _definitions: list[tuple[str, re.Pattern[str], int]] | None = field(
        default=None, repr=False, compare=False)
    # Any of those terms, longest first (``defined_in``).
    _any_defined: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, articles: list[ArticleDoc]) -> ArticleIndex:
        index = cls(articles=list(articles), by_id={a.id: a for a in articles})
        if not articles:
            return index
        documents = [f"{a.title} {a.title} {a.plain_body}" for a in articles]
        index.vectorizer = TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, stop_words="english", min_df=1
        )
        index.matrix = index.vectorizer.fit_transform(documents).T.tocsr()
        index._analyzer = index.vectorizer.build_analyzer()
        index.char_vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=1,
            preprocessor=content_words,
        )
        index.char_matrix = index.char_vectorizer.fit_transform(documents).T.tocsr()
        index._char_analyzer = index.char_vectorizer.build_analyzer()
        by_intent: dict[str, list[int]] = {}
        for row, article in enumerate(articles):
            for slug in article.intents:
                by_intent.setdefault(slug, []).append(row)
        index.intent_rows = {slug: np.array(rows) for slug, rows in by_intent.items()}
        return index

    def search(self, query: str, *, intent: str = "", limit: int = 3) -> list[dict]:
        """The best articles for a message and its intent: [{"id","title","score"}], best first.

        The score is the text score (``text_scores``) plus a fixed boost for the articles
        linked to the intent, so that a short message ("it's 55102") still finds the
        intent's articles; an article needs ``MIN_SCORE`` to be listed.
        """
        if not self.articles or self.vectorizer is None:
            return []
        scores = self.text_scores(query)
        rows = self.intent_rows.get(intent)
        if rows is not None and len(rows):
            scores[rows] += INTENT_BOOST
        count = min(limit, len(scores))
        best = np.argpartition(-scores, count - 1)[:count]
        best = best[np.argsort(-scores[best])]
        return [
            {"id": self.articles[i].id, "title": self.articles[i].title,
             "score": round(float(scores[i]), 4)}
            for i in best
            if scores[i] > MIN_SCORE
        ]

    def text_scores(self, query: str) -> np.ndarray:
        """Each article's text score for ``query`` (index order): the mean of its word and its
        character n-gram cosine similarities, from 0 to 1."""
        if not self.articles or self.vectorizer is None:
            return np.zeros(len(self.articles))
        last = self._last
        if last is not None and last[0] == query:
            return last[1].copy()
        if self._char_analyzer is None:
            self._char_analyzer = self.char_vectorizer.build_analyzer()
        chars = _cosines(self._char_analyzer(query), self.char_vectorizer, self.char_matrix)
        scores = (self._scores(query) + chars) / 2
        self._last = (query, scores)
        return scores.copy()

    def best_of_intent(self, query: str, intent: str) -> ArticleDoc | None:
        """The intent's article that fits ``query`` best: its text score plus
        ``GIST_MEANING_WEIGHT`` times its gist's meaning (``gist_meaning``), or the text score
        alone without the embedding model; the intent's first article when none shares a word
        or n-gram with ``query``; ``None`` when the intent has no article."""
        rows = self.intent_rows.get(intent)
        if rows is None or not len(rows):
            return None
        scores = self.text_scores(query)[rows]
        if len(rows) > 1 and scores.max() > 0:
            meaning = self.gist_meaning(query, rows)
            if meaning is not None:
                scores = scores + GIST_MEANING_WEIGHT * meaning
        return self.articles[int(rows[int(np.argmax(scores))])]

    def gist_meaning(self, query: str, rows: np.ndarray) -> np.ndarray | None:
        """Cosines (-1 to 1) of ``query``'s sentence embedding (typos read as in ``corrected``)
        with the gists (title and first lines) of the articles at ``rows``, in the order of
        ``rows``; ``None`` when the embedding model is off or missing. A gist is embedded once
        per index, when its article is first compared."""
        model = embedder()
        if model is None:
            return None
        missing = [int(row) for row in rows if int(row) not in self._gist_vectors]
        if missing:
            vectors = model.embed([_gist(self.articles[row]) for row in missing])
            self._gist_vectors.update(zip(missing, vectors, strict=True))
        corrected = self.corrected(query)
        # Unless a typo was read, the classifier has just embedded the same text: a cache hit.
        message = model.embed_one(query if corrected == " ".join(tokens(query)) else corrected)
        return np.array([float(self._gist_vectors[int(row)] @ message) for row in rows])

    def _scores(self, query: str) -> np.ndarray:
        """Each article's cosine similarity to ``query``: ``vectorizer.transform`` and the
        product, computed directly over the index's rows (terms) without sklearn's input
        checks and sparse matrices, which cost several times the arithmetic for one message.

        The same numbers: the fitted analyzer's terms, counted, ``1 + log`` of the counts
        (sublinear tf), times the terms' idf, scaled to unit length.
        """
        if self._analyzer is None:
            self._analyzer = self.vectorizer.build_analyzer()
        return _cosines(self._analyzer(self.corrected(query)), self.vectorizer, self.matrix)

    def corrected(self, query: str) -> str:
        """``query``'s words, each word the articles never use (five letters or more) read as
        the articles' word one typo away, if there is one: "shiping to canda" is "shipping to
        canada". Words the articles use, English words ("stuff" is not a typo of "staff") and
        short words stay as they are."""
        if self._spelling is None:
            words = {term for term in self.vectorizer.vocabulary_ if " " not in term}
            self._spelling = FuzzyLexicon({word: word for word in words})
        spelling, english = self._spelling, english_words()
        return " ".join(
            word if word in english else spelling(word) or word for word in tokens(query)
        )

    def get(self, article_id: int) -> ArticleDoc | None:
        return self.by_id.get(article_id)

    def defined_in(self, query: str) -> list[str]:
        """The terms some article defines (``defined_terms``) that ``query`` names as whole
        words, any case: ``["shipped", "delivered"]`` for "shipped vs delivered?". One scan of
        the query however many terms the articles define (the longer of two overlapping terms
        is the one named)."""
        self._definition_patterns()
        if self._any_defined is None:
            return []
        asked = " ".join(query.lower().split())
        return list(dict.fromkeys(" ".join(m.group(0).split())
                                  for m in self._any_defined.finditer(asked)))

    def _definition_patterns(self) -> list[tuple[str, re.Pattern[str], int]]:
        if self._definitions is None:
            self._definitions = [
                (term, re.compile(_term_pattern(term)), row)
                for row, article in enumerate(self.articles)
                for term in defined_terms(article.body)
            ]
            terms = sorted({term for term, _, _ in self._definitions}, key=len, reverse=True)
            self._any_defined = re.compile("|".join(map(_term_pattern, terms))) if terms else None
        return self._definitions

    def defining(self, query: str, *, intent: str = "") -> ArticleDoc | None:
        """The article that defines the terms a question asks about ("what does Packing
        mean?" finds the article with a line "- **Packing**: ..."): the one defining the most
        of the terms the question names as whole words; on a tie, one linked to ``intent``,
        then the one defining the most terms in all (a glossary over a page that mentions
        one), then the first. None when no article defines any of them. For questions about
        what something means (``dialog.asks_in_general``), whose words alone may point to
        another topic."""
        asked = " ".join(query.lower().split())
        counts: dict[int, int] = {}
        defined: dict[int, int] = {}
        for _term, pattern, row in self._definition_patterns():
            defined[row] = defined.get(row, 0) + 1
            if pattern.search(asked):
                counts[row] = counts.get(row, 0) + 1
        if not counts:
            return None
        best = max(counts, key=lambda row: (
            counts[row], intent in self.articles[row].intents, defined[row], -row))
        return self.articles[best]


def _cosines(terms: list[str], vectorizer: TfidfVectorizer, matrix) -> np.ndarray:
    """Each article's cosine similarity to a query of ``terms`` in one fitted TF-IDF space
    (``matrix`` is the documents' matrix transposed, one row a term)."""
    vocabulary = vectorizer.vocabulary_
    counts: dict[int, int] = {}
    for term in terms:
        column = vocabulary.get(term)
        if column is not None:
            counts[column] = counts.get(column, 0) + 1
    scores = np.zeros(matrix.shape[1])
    if not counts:
        return scores
    columns = np.fromiter(counts, dtype=np.intp, count=len(counts))
    weights = np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
    weights = (weights + 1.0) * vectorizer.idf_[columns]
    weights /= np.sqrt(np.dot(weights, weights))
    # The rows of the query's terms gathered in one go (no Python loop over the terms: a
    # message has a hundred character n-grams), each entry weighted by its term's weight.
    starts, ends = matrix.indptr[columns], matrix.indptr[columns + 1]
    lengths = ends - starts
    total = int(lengths.sum())
    if not total:
        return scores
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
    return np.bincount(
        matrix.indices[offsets],
        weights=matrix.data[offsets] * np.repeat(weights, lengths),
        minlength=matrix.shape[1],
    ).astype(np.float64)
