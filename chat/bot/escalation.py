"""The escalation decision: the brief's rules, then repeated fallbacks and requests for a person.

The first rule that applies gives the handoff's category and reason; the customer gets the
handoff message of that category (a billing intent's policy handoff gets the billing team's).
In order: legal, fraud, human_request (signals, or an explicit request), policy (an intent
that always goes to a person, unless the customer withdrew the concern), anger (an anger
signal, or an angry message to a complaint or to an intent whose policy is "when negative" or
"when angry"), policy ("when negative" and a negative message), urgency, other signals, turns
(past ``BOT_MAX_TURNS``), then language or fallbacks (``BOT_MAX_FALLBACKS`` consecutive
messages not understood; language when the last one is in a language or script the desk does
not answer in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The customer's handoff message, by category ("policy" of a billing intent has its own, by
# the intent: see ``handoff_message``).
HANDOFF_MESSAGES = {
    "billing": (
        "I'm sorry about the trouble with your payment. Billing questions are handled by our "
        "billing team, so I'm passing this conversation to a colleague who can look into your "
        "account. They will reply here shortly."
    ),
    "anger": (
        "I'm really sorry about this experience, and I understand your frustration. I'm "
        "bringing in a member of our team right now so that a person can put this right with "
        "you. They will reply here shortly."
    ),
    "turns": (
        "I don't seem to be getting you to an answer quickly enough, so I'm handing this "
        "conversation to a member of our team who can help you directly. They will reply here "
        "shortly."
    ),
    "human_request": (
        "Of course. I'm connecting you with a member of our team now; they will reply here "
        "shortly."
    ),
    "fallbacks": (
        "I'm sorry, I'm not understanding your request well enough. I'm handing this "
        "conversation to a member of our team who can help. They will reply here shortly."
    ),
    "language": (
        "I'm sorry that I can't help you in your language. I'm handing this conversation to a "
        "member of our team, who will reply here as soon as they can."
    ),
    "legal": (
        "I understand this is serious. I'm passing this conversation to a member of our team "
        "who can handle it properly. They will reply here shortly."
    ),
    "fraud": (
        "Thank you for telling us. Possible fraud or unauthorised activity is handled by a "
        "person, so I'm passing this conversation to our team right away. They will reply here "
        "shortly."
    ),
    "other": (
        "I'm passing this conversation to a member of our team who can help you with this. "
        "They will reply here shortly."
    ),
    "error": (
        "I'm sorry, something went wrong on my side. I'm passing this conversation to a member "
        "of our team, who will reply here shortly."
    ),
}
# With no agent online, one message says so and asks for an e-mail address (the widget shows
# its e-mail form right under it): a lead that fits the reason, then the same ending.
OFFLINE_LEADS = {
    "billing": "I'm sorry about the trouble with your payment.",
    "anger": "I'm really sorry about this experience, and I understand your frustration.",
    "turns": "I don't seem to be getting you to an answer quickly enough.",
    "fallbacks": "I'm sorry, I'm not understanding your request well enough.",
    "language": "I'm sorry that I can't help you in your language.",
    "legal": "I understand this is serious.",
    "fraud": "Thank you for telling us.",
    "error": "I'm sorry, something went wrong on my side.",
}
OFFLINE_ENDING = (
    "A member of our team should take this over, but no one is online right now. Leave your "
    "e-mail address below and we will reply by e-mail."
)
# Handoff categories, as the trace records them. Categories without a message of their own
# use the "other" one.
CATEGORIES = ("legal", "fraud", "anger", "human_request", "policy", "turns", "fallbacks",
              "language", "urgency", "quality", "error", "other")
# Names older traces and analytics events carry: "billing" was an always-policy billing
# intent (now "policy"), "long_conversation" the turn limit (now "turns").
LEGACY_CATEGORIES = {"billing": "policy", "long_conversation": "turns"}
def _is_billing(intent: str) -> bool:
    return "billing" in intent or "payment" in intent


def handoff_message(category: str, intent: str = "", *, agents_online: bool = True) -> str:
    """The customer's message for a handoff of ``category``.

    A policy handoff of a billing or payment intent gets the billing team's message; old
    category names ("billing", "long_conversation") still find theirs. With
    ``agents_online=False`` the one message that says no one is online and asks for an e-mail
    address (a lead that fits the category, then ``OFFLINE_ENDING``).
    """
    billing = category == "billing" or (category == "policy" and _is_billing(intent))
    category = "billing" if billing else LEGACY_CATEGORIES.get(category, category)
    if not agents_online:
        lead = OFFLINE_LEADS.get(category, "")
        return f"{lead} {OFFLINE_ENDING}" if lead else OFFLINE_ENDING
    return HANDOFF_MESSAGES.get(category, HANDOFF_MESSAGES["other"])


@dataclass(frozen=True)
class Escalation:
    handoff: bool
    category: str = ""
    reason: str = ""
    rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"handoff": self.handoff, "category": self.category, "reason": self.reason,
                "rule": self.rule}


def decide(
    *,
    intent: str,
    intent_name: str,
    policy: str,
    sentiment: str,
    urgency: str,
    signals: list[dict[str, Any]],
    human_request: str,
    turns: int,
    fallbacks: int,
    max_turns: int,
    max_fallbacks: int,
    language: str = "",
    withdrawn: str = "",
    accepted_offer: bool = False,
) -> Escalation:
    """Whether a person should take over now, and why.

    ``policy`` is the intent's escalation policy: ``never``, ``negative`` (a negative or
    angry message), ``angry`` (an angry message only, not a disappointed one) or ``always``.
    ``language`` names the language or script of a message the desk does not answer in
    ("" when it does): the consecutive-fallback handoff it completes is of category
    ``language``. ``withdrawn`` holds the words with which the customer took their concern
    back ("never mind, it was my husband"): an always-policy intent then stays with the bot.
    ``accepted_offer``: ``human_request`` is the customer's "yes" to the bot's offer of a
    person (the reason says so, quoting their words alone).
    """
    by_category: dict[str, list[str]] = {}
    for signal in signals:
        by_category.setdefault(signal.get("category", "other"), []).append(
            signal.get("phrase", "")
        )

    def quoted(category: str) -> str:
        return ", ".join(f'"{p}"' for p in by_category[category])

    if "legal" in by_category:
        return Escalation(True, "legal", f"Legal signal: {quoted('legal')}", "signal")
    if "fraud" in by_category:
        return Escalation(True, "fraud", f"Fraud signal: {quoted('fraud')}", "signal")
    if human_request or "human_request" in by_category:
        said = human_request or by_category["human_request"][0]
        asked = "accepted the offer of a person" if accepted_offer and human_request else (
            "asked for a person")
        return Escalation(True, "human_request", f'Customer {asked} ("{said}")',
                          "human_request")
    if policy == "always" and not withdrawn:
        return Escalation(True, "policy", f"{intent_name} always goes to a person", "policy")
    if "anger" in by_category:
        return Escalation(True, "anger", f"Anger signal: {quoted('anger')}", "signal")
    if sentiment == "angry" and (intent == "complaint" or policy in {"negative", "angry"}):
        return Escalation(True, "anger", f"Angry {intent_name.lower()}", "angry_complaint")
    if policy == "negative" and sentiment == "negative":
        return Escalation(True, "policy",
                          f"{intent_name} with negative sentiment goes to a person", "policy")
    if urgency == "critical":
        return Escalation(True, "urgency", "Critical urgency", "urgency")
    if "other" in by_category:
        return Escalation(True, "other", f"Escalation signal: {quoted('other')}", "signal")
    if turns > max_turns:
        return Escalation(True, "turns", f"Conversation ran past {max_turns} turns", "turn_limit")
    if fallbacks >= max_fallbacks and language:
        return Escalation(True, "language",
                          f"{fallbacks} consecutive messages in a language the desk does not "
                          f"answer in ({language})", "fallbacks")
    if fallbacks >= max_fallbacks:
        return Escalation(True, "fallbacks",
                          f"{fallbacks} consecutive messages not understood", "fallbacks")
    return Escalation(False)
