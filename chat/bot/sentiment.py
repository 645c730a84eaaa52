"""Offline sentiment and urgency: VADER's scores plus the escalation-signal categories.

Anger is told apart from disappointment: a negative message is angry when its negativity is
strong or raised by what angry customers write (shouting in capitals, repeated "!!", swearing,
insults, sarcasm such as "oh great, just wonderful"), and a softened one ("a little
disappointed", "slightly") is only negative. An anger signal always makes a message angry.
"""

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
_SHOUT = re.compile(r"\b[A-Z]{3,}\b")
# Capitals that are names, not shouting.
_ACRONYMS = frozenset({
    "ASAP", "USPS", "UPS", "DHL", "FEDEX", "FAQ", "GPS", "USB", "SMS", "PDF", "URL", "API",
    "USA", "UK", "EU", "GTX", "XL", "XXL", "XS", "ETA", "ID", "PIN", "CVV", "VAT", "TV", "APP",
    "AM", "PM", "OK", "LED", "RMA", "SKU", "FYI", "PO", "CEO", "IT", "HR",
})
# Insults aimed at the company or its people, not a customer's words about themselves ("I'm
# an idiot, I forgot") or things ("is the trash bag included", "a lying-flat seat").
_YOU = r"(?:you|you're|you are|u|ur|your (?:company|shop|store|staff|service|team|bot|site))"
_INSULT = re.compile(
    rf"\b(?:idiots|morons|imbeciles|clowns|crooks|liars|thieves|scumbags|"
    rf"{_YOU} (?:\w+ )?(?:an? )?(?:idiot|moron|imbecile|clown|crook|liar|thief|joke)|"
    rf"(?:useless|incompetent|pathetic|worthless|idiotic|moronic|stupid|dumb|shameful|"
    rf"disgraceful)(?! question)|"
    rf"(?:what|such|is|are|was|it's|you're) an? (?:bad |total |complete )?joke|joke of an?|"
    rf"rip[- ]?off|(?:total|absolute|complete|pure|is|are) (?:garbage|trash|rubbish)|"
    rf"(?:garbage|trash|rubbish) (?:service|company|shop|store|support|quality|product)|"
    rf"bunch of (?:idiots|clowns|crooks|amateurs|liars)|disgrace)\b"
)
_SARCASM = re.compile(
    r"\b(?:oh,? (?:great|wonderful|perfect|fantastic|brilliant|lovely|nice)|"
    r"just (?:great|wonderful|perfect|fantastic|brilliant|lovely)|thanks for nothing|"
    r"yeah,? right|great job|well done|what a surprise|love (?:how|that|waiting)|"
    r"so helpful(?:,| not)|real(?:ly)? helpful,? not|wow,? just wow|slow clap|bravo|"
    r"thanks a lot(?:,| for) (?:nothing|wasting|ruining|losing))\b"
)
# Strong words and exasperation: each kind adds to the anger.
_STRONG = re.compile(
    r"\b(?:worst|horrible|horrendous|disgusting|appalling|atrocious|outrageous|unbelievable|"
    r"fed up|sick of|sick and tired|had enough|enough is enough|never again|livid|fuming|"
    r"pissed|furious|infuriating|infuriated|enraged|raging)\b"
)
_FRUSTRATION = re.compile(
    r"\b(?:(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) time|again and again|"
    r"still (?:no|not|nothing|waiting|haven't|hasn't)|(?:nobody|no one|no-one) "
    r"(?:answers|replies|responds|helps|cares|called)|for (?:weeks|months|ages)|"
    r"keep(?:s)? (?:asking|waiting|telling|getting)|every single time|how many times)\b"
)
# The customer says they are angry ("I'm really angry", "we are furious"): anger, whatever the
# rest of the message scores. Only adverbs may stand between, so "I'm not angry" is not one.
_SELF_ANGER = re.compile(
    r"\b(?:i'?m|i am|we'?re|we are|i feel|i'?m getting|i am getting|this makes me|you make me)"
    r"\s+(?:(?:so|really|very|extremely|absolutely|truly|quite|getting|beyond|just|fucking|"
    r"bloody|incredibly|seriously|pretty|rather)\s+)*"
    r"(?:angry|mad|furious|livid|fuming|outraged|enraged|irate|pissed(?: off)?|seething)\b"
)
# Words that soften a complaint into disappointment.
_MILD = re.compile(
    r"\b(?:a (?:little|bit|tad)|bit|slightly|somewhat|kind of|kinda|sort of|a little bit|"
    r"mildly|not quite|not entirely|a touch)\b"
)
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


def _shouting(written: str) -> bool:
    """Two or more words in capitals that are not acronyms ("WHERE IS MY ORDER")."""
    shouted = [w for w in _SHOUT.findall(written) if w not in _ACRONYMS]
    return len(shouted) >= 2 or any(len(w) >= 5 for w in shouted)


def anger_level(text: str, compound: float, *, written: str = "") -> int:
    """How far a message goes beyond negative: strong negativity, capitals, "!!", swearing,
    insults (two), sarcasm, strong words and exasperation ("the third time I ask") each add
    one; softening words take one away."""
    written = written or text
    level = int(compound <= -0.6) + int(compound <= -0.85)
    level += int(_shouting(written))
    level += int(written.count("!") >= 2)
    level += int(bool(_PROFANITY.search(text)))
    level += 2 * int(bool(_INSULT.search(text)))
    level += min(2, len(_SARCASM.findall(text)))
    level += int(bool(_STRONG.search(text)))
    level += int(bool(_FRUSTRATION.search(text)))
    level -= int(bool(_MILD.search(text)))
    return level


def assess(text: str, signal_categories: set[str], *, written: str = "") -> Mood:
    """Sentiment (positive/neutral/negative/angry) and urgency (low..critical) of a message.

    ``text`` is the normalised message; ``written`` the message as written (format
    characters removed, case kept), for its capitals and VADER's emphasis. ``angry`` is more
    than ``negative``: see the module's docstring.
    """
    written = written or text
    compound = _analyzer().polarity_scores(written)["compound"]
    sarcastic = bool(_SARCASM.search(text))
    shouting = _shouting(written)
    intense = written.count("!") >= 2 or shouting or bool(_PROFANITY.search(text))
    negative = (
        compound <= -0.25
        or sarcastic
        or bool(_FRUSTRATION.search(text))
        or (intense and compound < 0)
        or (shouting and ("!" in written or "??" in written))
    )
    level = anger_level(text, compound, written=written)
    insulting = bool(_INSULT.search(text)) and not _MILD.search(text)
    if "anger" in signal_categories or _SELF_ANGER.search(text) or (negative and level >= 2) or (
        insulting and compound < 0.3
    ):
        sentiment = "angry"
    elif negative:
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
