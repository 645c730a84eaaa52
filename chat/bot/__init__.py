"""The bot pipeline: plain Python stages over a typed turn, run by ``answer_turn``.

See ``pipeline.py`` for the order of the stages and ``service.py`` for the entry points the
chat task and the knowledge playground call.
"""

from .service import answer_turn, failed_turn, offline_handoff, playground_turn
from .taxonomy import Taxonomy, taxonomy_invalidate, taxonomy_snapshot
from .types import TurnContext, TurnResult

__all__ = [
    "Taxonomy",
    "TurnContext",
    "TurnResult",
    "answer_turn",
    "failed_turn",
    "offline_handoff",
    "playground_turn",
    "taxonomy_invalidate",
    "taxonomy_snapshot",
]
