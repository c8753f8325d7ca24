"""The seeded choices of a generation run: which pairs of endpoints become comparisons, and which endpoint writes a
conversation's continuation. Pure and deterministic: the same seed and key give the same choice on any machine.

HelpSteer3's rule (arXiv 2503.04378, §2): the two responses of a pair always come from **different** models, so a
pair is always two distinct endpoints; which one is response 1 is drawn too, so no endpoint sits on one side.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence


def _rng(seed: int, key: int, purpose: str) -> random.Random:
    # A string seed is hashed with SHA-512 by random.Random, so it does not depend on PYTHONHASHSEED.
    return random.Random(f"{purpose}:{seed}:{key}")


def pairs_possible(endpoints: int) -> int:
    """Distinct unordered pairs of ``endpoints`` endpoints.

    >>> [pairs_possible(k) for k in (1, 2, 3, 4)]
    [0, 1, 3, 6]
    """
    return endpoints * (endpoints - 1) // 2


def choose_pairs(endpoint_ids: Sequence[int], *, count: int, seed: int, key: int) -> list[tuple[int, int]]:
    """``count`` distinct pairs ``(response 1's endpoint, response 2's endpoint)`` of different endpoints, drawn
    without replacement from all pairs of ``endpoint_ids`` with a generator seeded by ``(seed, key)`` (``key``: the
    prompt's id). Fewer when there are fewer pairs. The input order does not matter.

    >>> choose_pairs([7, 3], count=1, seed=0, key=1) in ([(3, 7)], [(7, 3)])
    True
    >>> choose_pairs([1, 2, 3], count=5, seed=4, key=9) == choose_pairs([3, 2, 1], count=5, seed=4, key=9)
    True
    >>> len(choose_pairs([1, 2, 3], count=5, seed=4, key=9)), choose_pairs([1], count=1, seed=0, key=0)
    (3, [])
    """
    ids = sorted(set(endpoint_ids))
    rng = _rng(seed, key, "pairs")
    pairs = list(itertools.combinations(ids, 2))
    rng.shuffle(pairs)
    return [(a, b) if rng.random() < 0.5 else (b, a) for a, b in pairs[: max(count, 0)]]


def choose_context_endpoint(endpoint_ids: Sequence[int], *, seed: int, key: int) -> int:
    """The endpoint that writes the continuation turns of prompt ``key`` (seeded, like the pairs).

    >>> choose_context_endpoint([5, 6], seed=1, key=2) in (5, 6)
    True
    """
    ids = sorted(set(endpoint_ids))
    if not ids:
        raise ValueError("no endpoints to choose from")
    return _rng(seed, key, "context").choice(ids)
