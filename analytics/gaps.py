"""Knowledge gaps that teach the bot: similar gap messages grouped, and what an admin does
about a group (training phrases, a draft article, out of scope).

Grouping uses the active classifier's own features, its content words (``content_words``, a
plural "s" dropped): a message joins the first group (most frequent first) holding a message
with which it shares at least a third of its words (Jaccard similarity), which is single-link
clustering with a threshold. A group's suggested intent is the classifier's top guess
(``IntentClassifier.predict_words``, through the bot chat registers with
``knowledge.bot``) most of its messages (by count) get, the fallback intent left out: its
messages are gaps because they were taken as the fallback intent, and phrases taught to it
would keep them gaps (so the services refuse it as a target, and a draft article never
takes it). Largest group
first. The writes go through the knowledge services, so they are validated, audited and make
the bot reload the taxonomy.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from knowledge.audit import audit_record
from knowledge.bot import bot_registered
from knowledge.importexport import PHRASE_MAX
from knowledge.models import ArticleStatus, ClassifierModel, Intent
from knowledge.safejson import UNSTORABLE_REASON, has_unstorable
from knowledge.services import article_create, intent_create, phrase_add

from .models import CohortGapMessage, GapAction, GapActionKind
from .rollup import local_day_of

SIMILARITY = 1 / 3  # Jaccard over content words: a third of the words in common
MAX_TEXTS = 300  # the most frequent distinct gap messages grouped per scope
EXAMPLES = 5
MAX_MESSAGES = 50  # per action


@dataclass
class GapGroup:
    """Similar gap messages: ``messages`` are (text, count), most frequent first."""

    key: str
    suggested_intent: str
    messages: list[tuple[str, int]] = field(default_factory=list)
    word_sets: list[set[str]] = field(default_factory=list)
    actions: list[GapAction] = field(default_factory=list)  # what was done, latest first
    out_of_scope: bool = False  # every message marked out of scope

    @property
    def total(self) -> int:
        return sum(n for _, n in self.messages)

    @property
    def examples(self) -> list[tuple[str, int]]:
        return self.messages[:EXAMPLES]

    @property
    def texts(self) -> list[str]:
        return [text for text, _ in self.messages]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "suggested_intent": self.suggested_intent,
                "messages": self.messages}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GapGroup:
        return cls(key=data["key"], suggested_intent=data["suggested_intent"],
                   messages=[(str(t), int(n)) for t, n in data["messages"]])


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else float(a == b)


def _words(text: str) -> set[str]:
    words = bot_registered().content_words(text)
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words}


def gap_groups(messages: list[tuple[str, int]]) -> list[GapGroup]:
    """Groups (text, count) pairs, given most frequent first; largest group first.

    Without a trained classifier the suggested intent is "" and only the words group."""
    guess_intent = bot_registered().intent_guesser()
    groups: list[GapGroup] = []
    votes: dict[str, dict[str, int]] = {}
    # Only groups that share a word can be similar enough: an index from word to groups
    # (by their position, the first made first) spares comparing every pair.
    by_word: dict[str, set[int]] = {}
    for text, n in messages[:MAX_TEXTS]:
        words = _words(text)
        candidates = sorted(set().union(*(by_word.get(w, set()) for w in words)))
        position = next(
            (i for i in candidates
             if any(_jaccard(seen, words) >= SIMILARITY for seen in groups[i].word_sets)),
            None,
        )
        if position is None:
            key = hashlib.sha1(text.encode()).hexdigest()[:12]  # noqa: S324 (a name, not security)
            groups.append(GapGroup(key=key, suggested_intent=""))
            position = len(groups) - 1
        home = groups[position]
        for word in words:
            by_word.setdefault(word, set()).add(position)
        home.messages.append((text, n))
        home.word_sets.append(words)
        guess = guess_intent(text) if guess_intent is not None else ""
        if guess and guess != settings.BOT_FALLBACK_INTENT:
            tally = votes.setdefault(home.key, {})
            tally[guess] = tally.get(guess, 0) + n
    for group in groups:
        tally = votes.get(group.key)
        if tally:
            group.suggested_intent = max(sorted(tally), key=lambda slug: tally[slug])
    return sorted(groups, key=lambda g: (-g.total, g.key))


def gap_actions_by_text(texts: list[str]) -> dict[str, GapAction]:
    """The latest action taken on each of these texts."""
    wanted = set(texts)
    found: dict[str, GapAction] = {}
    for action in GapAction.objects.order_by("-created_at", "-id")[:500]:
        for text in action.texts:
            if text in wanted and text not in found:
                found[text] = action
    return found


@dataclass(frozen=True)
class Effect:
    """A taught group before and after the training that followed the action: its messages'
    share of all fallbacks and handoffs counted as gaps (``CohortGapMessage``), in the
    ``WINDOW`` before the action and from the training on. ``trained_at`` None: no training
    since the action."""

    before: float | None
    after: float | None
    trained_at: Any = None

    @property
    def before_display(self) -> str:
        return "—" if self.before is None else f"{self.before * 100:.1f}%"

    @property
    def after_display(self) -> str:
        return (
            "waiting for a day of conversations after it" if self.after is None
            else f"{self.after * 100:.1f}%"
        )


WINDOW = timedelta(days=14)


def gap_action_effect(action: GapAction, zone: str) -> Effect:
    """The share of the gaps the action's messages made up in the 14 days before it, and from
    the day after the first classifier activated after it (two aggregate queries on the
    rollup); ``after`` is None until that day has gap messages."""
    trained = (
        ClassifierModel.objects.filter(activated_at__gte=action.created_at)
        .order_by("activated_at").values_list("activated_at", flat=True).first()
    )

    def share(start: datetime, end: datetime | None) -> float | None:
        rows = CohortGapMessage.objects.filter(
            zone=zone, intent="", day__gte=local_day_of(start, zone),
            **({"day__lt": local_day_of(end, zone)} if end else {}),
        )
        total = rows.aggregate(n=Sum("n"))["n"] or 0
        if not total:
            return None
        mine = rows.filter(text__in=action.texts).aggregate(n=Sum("n"))["n"] or 0
        return mine / total

    before = share(action.created_at - WINDOW, action.created_at)
    # The rollup counts whole days: the training's own day holds messages from before it, so
    # "after" starts on the next day and stays empty until that day has gap messages.
    after = share(trained + timedelta(days=1), None) if trained else None
    return Effect(before=before, after=after, trained_at=trained)


def gap_effects_attach(groups: list[GapGroup], zone: str) -> None:
    """Sets ``effect`` (``gap_action_effect``) on every "added as training phrases" action
    of these groups (the ones a page shows: two queries per such action)."""
    seen: dict[int, Effect] = {}
    for group in groups:
        for action in group.actions:
            if action.kind == GapActionKind.ADD_PHRASES:
                if action.pk not in seen:
                    seen[action.pk] = gap_action_effect(action, zone)
                action.effect = seen[action.pk]


def _check_storable(*values: str) -> None:
    """Refuses text no database stores (a form post can carry a NUL as ``%00``)."""
    if any(has_unstorable(value) for value in values):
        raise ValidationError(f"The text holds {UNSTORABLE_REASON}.")


def _check_texts(texts: list[str], max_chars: int | None = None) -> list[str]:
    """The posted messages, stripped and without repeats. Raises ValidationError for none,
    too many, one longer than ``max_chars`` (default: a customer message's limit) or one
    holding a NUL or another control character (line breaks and tabs are allowed)."""
    limit = max_chars or settings.CHAT_MAX_MESSAGE_CHARS
    _check_storable(*texts)
    texts = list(dict.fromkeys(t.strip() for t in texts if t and t.strip()))
    if not texts:
        raise ValidationError("Choose at least one message.")
    if len(texts) > MAX_MESSAGES:
        raise ValidationError(f"At most {MAX_MESSAGES} messages at a time.")
    for text in texts:
        if any(unicodedata.category(ch) == "Cc" and not ch.isspace() for ch in text):
            raise ValidationError("A message may not contain NUL or other control characters.")
        if len(text) > limit:
            raise ValidationError(
                f"A message holds at most {limit} characters here (one has {len(text)})."
            )
    return texts


def _record(*, actor: Any, kind: str, texts: list[str], intent: str = "",
            article: Any = None) -> GapAction:
    action = GapAction.objects.create(
        kind=kind, texts=texts, intent=intent, article=article,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        created_at=timezone.now(),
    )
    audit_record(
        actor=actor, action=f"gap.{kind}", object_type="gap", object_id=str(action.pk),
        object_repr=f"{len(texts)} gap message(s)",
        changes={"messages": [None, texts[:10]], "intent": [None, intent or None],
                 "article": [None, article.pk if article else None]},
    )
    return action


@transaction.atomic
def gap_add_phrases(
    *, actor: Any, texts: list[str], intent: str = "", new_intent: str = ""
) -> GapAction:
    """Adds the messages as training phrases of ``intent`` (a slug) or of a new intent
    ``new_intent`` (a slug, created with them). Messages the intent already has are
    skipped. Raises ValidationError (nothing written) for no messages, an unknown intent or
    the fallback intent (``BOT_FALLBACK_INTENT``)."""
    texts = _check_texts(texts, max_chars=PHRASE_MAX)
    _check_storable(intent, new_intent)
    fallback = settings.BOT_FALLBACK_INTENT
    if fallback in {intent.strip(), new_intent.strip()}:
        raise ValidationError(
            f"{fallback} is the fallback intent: messages taught to it stay gaps. Choose "
            "another intent or name a new one."
        )
    if not intent.strip() and not new_intent.strip():
        raise ValidationError("Choose an intent or name a new one.")
    if new_intent:
        target = intent_create(actor=actor, slug=new_intent.strip(),
                               name=new_intent.strip().replace("_", " ").capitalize())
    else:
        target = Intent.objects.filter(slug=intent).first()
        if target is None:
            raise ValidationError(f"No intent {intent!r}.")
    have = {t.lower() for t in target.phrases.values_list("text", flat=True)}
    for text in texts:
        if text.lower() not in have:
            phrase_add(actor=actor, intent=target, text=text)
    return _record(actor=actor, kind=GapActionKind.ADD_PHRASES, texts=texts, intent=target.slug)


@transaction.atomic
def gap_draft_article(*, actor: Any, texts: list[str], intent: str = "") -> GapAction:
    """Starts a draft article whose body lists the messages as the questions it should
    answer, linked to ``intent`` (the suggested or chosen one) when given and not the
    fallback intent: an article of the fallback intent would be offered for every message
    the bot does not understand."""
    texts = _check_texts(texts)
    _check_storable(intent)
    wanted = intent if intent and intent != settings.BOT_FALLBACK_INTENT else ""
    intents = list(Intent.objects.filter(slug=wanted)) if wanted else []
    title = f"Draft: {texts[0][:80]}"
    body = "\n".join(
        ["## Questions this should answer", "", *(f"- {t}" for t in texts), "",
         "## Answer", "", "(Write the answer here.)"]
    )
    article = article_create(actor=actor, title=title, body=body, status=ArticleStatus.DRAFT,
                             intents=intents)
    return _record(actor=actor, kind=GapActionKind.DRAFT_ARTICLE, texts=texts,
                   intent=wanted if intents else "", article=article)


@transaction.atomic
def gap_mark_out_of_scope(*, actor: Any, texts: list[str]) -> GapAction:
    """Records that the desk does not answer these messages: they leave the gap list."""
    return _record(actor=actor, kind=GapActionKind.OUT_OF_SCOPE, texts=_check_texts(texts))
