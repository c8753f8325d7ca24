"""Continuing a conversation before the final pair: how the next user turn is asked for. Pure.

A run with ``continuation_turns = T`` adds T rounds to a prompt before the final responses: in each round one
endpoint (chosen with the run's seed) answers as the assistant, then the same endpoint writes the user's next
message. It writes it by role reversal, the user simulator of self-chat data sets (UltraChat, arXiv 2305.14233):
the conversation is shown with the roles swapped under an instruction to reply as the user, so a plain chat model
plays the user without a special template. Both responses of the final pair then answer the same, whole context,
as HelpSteer3's pairs do (arXiv 2503.04378).
"""

from __future__ import annotations

from collections.abc import Sequence

from annotator.domain import Turn

USER_SIMULATOR_INSTRUCTION = (
    "You are the user in the conversation below, talking with an AI assistant. Write the user's next message: one "
    "natural follow-up that continues the conversation. Write only the message itself."
)
_SWAP = {"user": "assistant", "assistant": "user"}


def user_turn_request(turns: Sequence[Turn]) -> list[Turn]:
    """The messages that ask a chat model for the user's next turn after ``turns`` (which end with the assistant).

    The original system turns are dropped (they instruct the assistant, not the user); the rest swap roles, so the
    last assistant turn becomes the "user" message the simulator answers.

    >>> [(t.role, t.content) for t in user_turn_request([Turn("system", "Be kind."), Turn("user", "Hi"),
    ...                                                  Turn("assistant", "Hello!")])][1:]
    [('assistant', 'Hi'), ('user', 'Hello!')]
    """
    swapped = [Turn(role="user" if t.role == "assistant" else "assistant", content=t.content)
               for t in turns if t.role in _SWAP]  # fmt: skip
    return [Turn(role="system", content=USER_SIMULATOR_INSTRUCTION), *swapped]
