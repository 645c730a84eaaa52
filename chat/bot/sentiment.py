"""Offline sentiment and urgency: VADER's scores plus the escalation-signal categories."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

SENTIMENTS = ("positive", "neutral", "negative", "angry")
URGENCIES = ("low", "medium", "high", "critical")

_PROFANITY = re.compile(
    r"\b(?:f+u+c+k\w*|shit\w*|crap|damn\w*|goddamn\w*|wtf|bs|bullshit|bloody|hell)\b", re.I
)
_SHOUT = re.compile(r"\b[A-Z]{4,}\b")
_URGENT = re.compile(
    r"\b(?:urgent(?:ly)?|asap|immediately|right now|right away|emergency|today|tonight|"
    r"as soon as possible|time[- ]sensitive)\b",
    re.I,
)
_DANGER = re.compile(
    r"\b(?:injur(?:ed|y)|hurt|burn(?:ed|t)|fire|smoke|danger(?:ous)?|unsafe|hospital|"
    r"allergic reaction|emergency|electric shock)\b",
    re.I,
)


@dataclass(frozen=True)
class Mood:
    sentiment: str
    urgency: str
    compound: float

    def to_dict(self) -> dict[str, object]:
        return {"sentiment": self.sentiment, "urgency": self.urgency,
                "compound": round(self.compound, 3)}


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def assess(text: str, signal_categories: set[str]) -> Mood:
    """Sentiment (positive/neutral/negative/angry) and urgency (low..critical) of a message."""
    compound = _analyzer().polarity_scores(text)["compound"]
    intense = (
        text.count("!") >= 2
        or bool(_SHOUT.search(text))
        or bool(_PROFANITY.search(text))
    )
    if "anger" in signal_categories or compound <= -0.75 or (compound <= -0.4 and intense):
        sentiment = "angry"
    elif compound <= -0.25 or (intense and compound < 0):
        sentiment = "negative"
    elif compound >= 0.35:
        sentiment = "positive"
    else:
        sentiment = "neutral"

    if signal_categories & {"legal", "fraud"} or _DANGER.search(text):
        urgency = "critical"
    elif sentiment == "angry" or _URGENT.search(text):
        urgency = "high"
    elif sentiment == "negative" or signal_categories:
        urgency = "medium"
    else:
        urgency = "low"
    return Mood(sentiment, urgency, compound)
