"""Entry points: a turn of a stored conversation, and a playground turn that stores nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from . import escalation
from .lookup import Caller
from .pipeline import run_turn
from .taxonomy import taxonomy_snapshot
from .types import TurnContext, TurnResult


def answer_turn(
    *, text: str, context: TurnContext, on_delta: Callable[[str], None] | None = None,
    call_connector: Caller | None = None,
) -> TurnResult:
    """The bot's decision for one customer message of a conversation.

    With Claude, ``on_delta`` receives the whole reply written so far as it streams.
    ``call_connector`` makes data connectors' calls (see ``run_turn``); one that raises
    ``chat.bot.lookup.DeferTurn`` stops the turn there.
    """
    return run_turn(taxonomy_snapshot(), text=text, context=context, on_delta=on_delta,
                    call_connector=call_connector)


def failed_turn(
    *, error: BaseException, intent: str = "", dialog_state: dict | None = None
) -> TurnResult:
    """The turn that hands the conversation to a person when the pipeline itself failed.

    The customer gets an apology and a person instead of silence; the intent (the
    conversation's so far) and the dialog state are kept as they were, with no detail awaited;
    the trace names the error's type, not its text (which may quote the customer).
    """
    state = {**(dialog_state or {}), "pending": None}
    return TurnResult(
        decision="handoff",
        reply_text=escalation.handoff_message("error"),
        intent=intent,
        confidence=0.0,
        top_intents=[],
        is_fallback=False,
        entities={},
        sentiment="",
        urgency="",
        signals=[],
        articles=[],
        handoff_reason="The bot could not answer (an error in its pipeline).",
        handoff_category="error",
        dialog_state=state,
        backend="offline",
        trace={"errors": [f"pipeline: {type(error).__name__}"]},
        total_ms=0.0,
    )


def offline_handoff(result: TurnResult) -> TurnResult:
    """``result`` with, for a handoff, the one message that says no agent is online and asks
    for an e-mail address (``escalation.handoff_message(..., agents_online=False)``) instead of
    "a member of our team will reply here". Any other decision is returned as it is.

    The reply is whole: a streamed handoff does not exist (the pipeline writes handoff
    messages itself), so nothing the customer saw being typed is replaced.
    """
    if result.decision != "handoff":
        return result
    text = escalation.handoff_message(result.handoff_category, result.intent, agents_online=False)
    return dataclasses.replace(result, reply_text=text)


def playground_turn(
    *, text: str, history: Iterable[str] = (), dialog_state: dict | None = None
) -> TurnResult:
    """The same pipeline on the current taxonomy, for the admins' playground.

    ``history`` holds the customer's earlier messages; they are replayed through the dialog
    manager (so that "it's 55102" after "where is my order?" works) unless ``dialog_state``
    is given. Nothing is stored. The taxonomy is checked for changes first, so a classifier
    just trained and activated by a worker answers at once.
    """
    taxonomy = taxonomy_snapshot(fresh=True)
    earlier = [line for line in history if line and line.strip()]
    state = dialog_state
    turns: list[tuple[str, str]] = []
    if state is None:
        state = {}
        for line in earlier:
            previous = run_turn(
                taxonomy,
                text=line,
                context=TurnContext(history=list(turns), dialog_state=state,
                                    customer_texts=[t for a, t in turns if a == "customer"]),
                use_claude=False,
                respond=False,
            )
            state = previous.dialog_state
            turns.append(("customer", line))
    else:
        turns = [("customer", line) for line in earlier]
    context = TurnContext(
        history=turns[-10:], dialog_state=dict(state), customer_texts=list(earlier)
    )
    return run_turn(taxonomy, text=text, context=context)
