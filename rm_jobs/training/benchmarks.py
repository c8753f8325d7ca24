"""Today's reward-model benchmarks, read from their released files and scored as their own scripts score them.

Pure: rows in, a ``scorer`` (``[(prompt, response)] -> [reward]``, batched by the caller) and numbers out; no torch,
no Django. Each benchmark's responses are scored in one call, so the model sees one long batched list.

=============  ==============================================  ==============================================
benchmark      released layout (one row per prompt)            scoring (source)
=============  ==============================================  ==============================================
reward-bench   ``prompt, chosen, rejected, subset`` (strings)   RewardBench v1, in :mod:`.evaluation`
rewardbench2   ``id, prompt, chosen: [..], rejected: [..],     allenai/reward-bench ``scripts/run_v2.py``:
               num_correct, subset`` (Parquet)                  best-of-4; Ties by ``process_single_model``
rm-bench       ``id, prompt, chosen: [3], rejected: [3],        THU-KEG/RM-Bench ``compute_accuracy``: 3×3
               domain`` (``total_dataset.json``, a JSON list)   style matrix → easy / normal / hard
judgebench     ``pair_id, source, question, response_A,         ScalerLab/JudgeBench ``compute_final_metrics``
               response_B, label`` ("A>B" | "B>A") (JSONL)      (a reward model judges both orders alike)
=============  ==============================================  ==============================================
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

BenchmarkName = Literal["reward-bench", "rewardbench2", "rm-bench", "judgebench"]
BENCHMARKS: tuple[BenchmarkName, ...] = ("reward-bench", "rewardbench2", "rm-bench", "judgebench")
Scorer = Callable[[Sequence[tuple[Any, str]]], list[float]]
Row = Mapping[str, Any]

REWARD_BENCH_2_SUBSETS = ("Factuality", "Precise IF", "Math", "Safety", "Focus", "Ties")
RM_BENCH_STYLES = ("concise", "detailed_plain", "detailed_markdown")
RM_BENCH_LEVELS = ("easy", "normal", "hard")
JUDGEBENCH_LABELS = ("A>B", "B>A")


class BenchmarkLayoutError(ValueError):
    """A benchmark file that is not in the layout it was taken for; ``where`` says which row (1-based) or "file"."""

    def __init__(self, message: str, *, where: str = "file") -> None:
        super().__init__(message)
        self.message = message
        self.where = where


# --- reading and recognising files ----------------------------------------------------------------------------------
def read_benchmark_file(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a benchmark file as released: ``.parquet``, ``.json`` (a list of objects, or JSON lines), ``.jsonl``.

    Raises BenchmarkLayoutError for an unreadable file, one that is not a list of objects, or one with no rows.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    rows: Any
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(path).to_pylist()
        except (pa.ArrowException, OSError) as error:
            raise BenchmarkLayoutError(f"The file is not readable Parquet: {error}.") from error
    elif suffix in (".json", ".jsonl", ".ndjson"):
        text = path.read_text(encoding="utf-8")
        rows = _json_rows(text) if suffix == ".json" else _json_lines(text)
    else:
        raise BenchmarkLayoutError(f"Unsupported file type {suffix or '(none)'}: upload .jsonl, .json or .parquet.")
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise BenchmarkLayoutError("The file must hold a list of objects (one per prompt).")
    if not rows:
        raise BenchmarkLayoutError("The file holds no rows.")
    return rows


def _json_rows(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError as error:
        raise BenchmarkLayoutError("The file's JSON is nested too deeply.") from error
    except ValueError:  # JSONDecodeError, or an integer too long to convert
        return _json_lines(text)  # a .json file of JSON lines, as datasets writes them


def _json_lines(text: str) -> list[Any]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except (ValueError, RecursionError) as error:  # not JSON, an integer too long, nesting too deep
                reason = error.msg if isinstance(error, json.JSONDecodeError) else "a JSON value cannot be read"
                raise BenchmarkLayoutError(f"Line {number} is not JSON: {reason}.", where=f"line {number}") from error
    return rows


def detect_benchmark(rows: Sequence[Row]) -> BenchmarkName:
    """Which benchmark's layout the first row has; BenchmarkLayoutError when it is none of them or ambiguous.

    >>> detect_benchmark([{"response_A": "a", "response_B": "b", "label": "A>B", "question": "q"}])
    'judgebench'
    >>> detect_benchmark([{"prompt": "q", "chosen": ["a", "b", "c"], "rejected": ["d", "e", "f"], "domain": "chat"}])
    'rm-bench'
    """
    first = rows[0]
    if "response_A" in first or "response_B" in first:
        return "judgebench"
    chosen = first.get("chosen")
    if isinstance(chosen, list):
        if "num_correct" in first or first.get("subset") in REWARD_BENCH_2_SUBSETS:
            return "rewardbench2"
        if "domain" in first:
            return "rm-bench"
        raise BenchmarkLayoutError(
            "Lists of chosen responses, but neither RewardBench 2's num_correct/subset nor RM-Bench's domain: "
            "choose the benchmark explicitly."
        )
    if isinstance(chosen, str) or "prompt" in first:
        return "reward-bench"
    raise BenchmarkLayoutError(
        "Not a known benchmark layout: RewardBench (prompt, chosen, rejected, subset), RewardBench 2 (chosen and "
        "rejected lists, num_correct, subset), RM-Bench (3 chosen, 3 rejected, domain) or JudgeBench (question, "
        "response_A, response_B, label)."
    )


def check_rows(benchmark: BenchmarkName, rows: Sequence[Row]) -> None:
    """BenchmarkLayoutError naming the first row that does not fit ``benchmark``'s released layout."""
    checks: dict[BenchmarkName, Callable[[Row], str | None]] = {
        "reward-bench": _reward_bench_problem,
        "rewardbench2": _rewardbench2_problem,
        "rm-bench": _rm_bench_problem,
        "judgebench": _judgebench_problem,
    }
    for number, row in enumerate(rows, start=1):
        problem = checks[benchmark](row)
        if problem:
            raise BenchmarkLayoutError(
                f"Row {number} is not in the {benchmark} layout: {problem}.", where=f"row {number}"
            )


def _missing(row: Row, keys: Sequence[str]) -> str | None:
    absent = [key for key in keys if key not in row or row[key] is None]
    return f"it lacks {', '.join(absent)}" if absent else None


def _texts(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _prompt_ok(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(t, dict) for t in value))


def _reward_bench_problem(row: Row) -> str | None:
    missing = _missing(row, ("prompt", "chosen", "rejected"))
    if missing:
        return missing + " (a RewardBench file has prompt, chosen, rejected and subset)"
    if not isinstance(row["chosen"], str) or not isinstance(row["rejected"], str):
        return "chosen and rejected must be strings"
    return None if _prompt_ok(row["prompt"]) else "prompt must be a string or a list of turns"


def _rewardbench2_problem(row: Row) -> str | None:
    missing = _missing(row, ("id", "prompt", "chosen", "rejected", "subset"))
    if missing:
        return missing
    if not _texts(row["chosen"]) or not _texts(row["rejected"]):
        return "chosen and rejected must be non-empty lists of strings"
    if "num_correct" in row and row["num_correct"] != len(row["chosen"]):
        return f"num_correct is {row['num_correct']} but chosen holds {len(row['chosen'])}"
    if str(row["subset"]).lower() == "ties":
        kind, _, number = str(row["id"]).partition(":")
        if kind not in ("ref", "tied") or not number.isdigit():
            return 'a Ties id must read "ref:<n>" or "tied:<n>"'
        if kind == "tied" and len(row["chosen"]) < 2:
            return "a tied Ties prompt needs at least two correct answers"
    return None if _prompt_ok(row["prompt"]) else "prompt must be a string or a list of turns"


def _rm_bench_problem(row: Row) -> str | None:
    missing = _missing(row, ("prompt", "chosen", "rejected", "domain"))
    if missing:
        return missing
    if not (_texts(row["chosen"]) and _texts(row["rejected"])) or len(row["chosen"]) != 3 or len(row["rejected"]) != 3:
        return "chosen and rejected must each list 3 responses (concise, detailed plain, detailed markdown)"
    return None if _prompt_ok(row["prompt"]) else "prompt must be a string or a list of turns"


def _judgebench_problem(row: Row) -> str | None:
    missing = _missing(row, ("question", "response_A", "response_B", "label"))
    if missing:
        return missing
    if not isinstance(row["response_A"], str) or not isinstance(row["response_B"], str):
        return "response_A and response_B must be strings"
    if row["label"] not in JUDGEBENCH_LABELS:
        return f'label must be "A>B" or "B>A", not {row["label"]!r}'
    return None


# --- results --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchmarkResult:
    """A benchmark scored.

    Attributes
    ----------
    overall
        The benchmark's headline score in [0, 1] (NaN where its own script gives none).
    per_subset
        Score per subset (RewardBench 2), domain (RM-Bench: the mean of easy, normal and hard) or category
        (JudgeBench).
    details
        Further figures by name: RM-Bench ``easy``/``normal``/``hard`` and ``per_domain``; JudgeBench
        ``per_source``; RewardBench 2 ``ties`` components.
    export
        What the benchmark's own script writes, as JSON (see each ``score_*``).
    """

    benchmark: BenchmarkName
    overall: float
    per_subset: dict[str, float]
    num_rows: int
    details: dict[str, Any] = field(default_factory=dict)
    export: Any = None


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


# --- RewardBench 2 --------------------------------------------------------------------------------------------------
def best_of_n_result(chosen: Sequence[float], rejected: Sequence[float]) -> float:
    """One RewardBench 2 prompt: 1 when the (first) chosen response outscores every rejected one; when it shares the
    top score with k-1 others, 1/k (run_v2's tie penalty); 0 otherwise.

    >>> best_of_n_result([2.0], [1.0, 0.5, 1.9]), best_of_n_result([2.0], [2.0, 0.5, 1.0]), best_of_n_result([1.0], [2.0])
    (1.0, 0.5, 0.0)
    """
    scores = [*chosen, *rejected]
    top = max(scores)
    return 1.0 / sum(s == top for s in scores) if scores[0] == top else 0.0


@dataclass(frozen=True)
class TiesScore:
    """RewardBench 2's Ties score: 0.30 tied accuracy + 0.30 reference accuracy + 0.20 correctness preferred +
    0.20 correctness preferred (hard) + 0.01 margin term (allenai/reward-bench ``process_single_model``)."""

    overall: float
    ref_accuracy: float
    tied_accuracy: float
    correctness_preferred: float
    correctness_preferred_hard: float
    margin: float


def ties_score(prompts: Sequence[tuple[str, int, Sequence[float], Sequence[float]]]) -> TiesScore:
    """Ties from ``(kind, prompt_id, correct_scores, incorrect_scores)`` per row, ``kind`` "ref" or "tied".

    Per row: accurate when the worst correct answer beats the best incorrect one; ``gap`` = worst correct - best
    incorrect; ``spread`` = best correct - worst correct (tied rows). Over the prompt ids with both a ref and a tied
    row: correctness preferred = mean(gap_tied > spread), hard = mean(min(gap_ref, gap_tied) > spread), margin =
    mean(tanh(min(gap_ref, gap_tied) / spread - 1)) with 0/0 → 0. Without such pairs those three are NaN, as in
    the reference, and so is the overall score.
    """
    ref: dict[int, tuple[bool, float]] = {}
    tied: dict[int, tuple[bool, float, float]] = {}
    for kind, prompt_id, correct, incorrect in prompts:
        gap = min(correct) - max(incorrect)
        if kind == "ref":
            ref[prompt_id] = (gap > 0, gap)
        else:
            tied[prompt_id] = (gap > 0, gap, max(correct) - min(correct))
    ref_accuracy = _mean([float(a) for a, _ in ref.values()]) if ref else 0.0
    tied_accuracy = _mean([float(a) for a, _, _ in tied.values()]) if tied else 0.0
    both = sorted(set(ref) & set(tied))
    preferred = _mean([float(tied[p][1] > tied[p][2]) for p in both])
    hard = _mean([float(min(ref[p][1], tied[p][1]) > tied[p][2]) for p in both])
    margin = _mean([_tanh_ratio(min(ref[p][1], tied[p][1]), tied[p][2]) for p in both])
    overall = 0.30 * tied_accuracy + 0.30 * ref_accuracy + 0.20 * preferred + 0.20 * hard + 0.01 * margin
    return TiesScore(overall, ref_accuracy, tied_accuracy, preferred, hard, margin)


def _tanh_ratio(gap: float, spread: float) -> float:
    if spread == 0:
        return 0.0 if gap == 0 else math.copysign(1.0, gap)  # numpy: ±inf → tanh ±1, nan → 0
    return math.tanh(gap / spread - 1)


def score_rewardbench2(rows: Sequence[Row], scorer: Scorer) -> BenchmarkResult:
    """RewardBench 2: accuracy per subset (best-of-n, :func:`best_of_n_result`), Ties by :func:`ties_score`; overall =
    the mean of the subsets present (the leaderboard's score over its six subsets).

    ``export`` is run_v2's results file: ``{"model", "model_type", "chat_template", <subset>: score}``, plus
    ``"per_prompt"``: ``{id, subset, scores, num_correct, results}`` rows as its scores file holds them.
    """
    pairs = [(row["prompt"], text) for row in rows for text in (*row["chosen"], *row["rejected"])]
    rewards = scorer(pairs)
    results: dict[str, list[float]] = defaultdict(list)
    ties: list[tuple[str, int, Sequence[float], Sequence[float]]] = []
    per_prompt = []
    start = 0
    for row in rows:
        n_correct = len(row["chosen"])
        scores = rewards[start : start + n_correct + len(row["rejected"])]
        start += len(scores)
        subset = str(row["subset"])
        result: float | None
        if subset.lower() == "ties":
            kind, _, number = str(row["id"]).partition(":")
            ties.append((kind, int(number), scores[:n_correct], scores[n_correct:]))
            result = None  # Ties has no per-prompt result
        else:
            result = best_of_n_result(scores[:n_correct], scores[n_correct:])
            results[subset].append(result)
        per_prompt.append(
            {"id": row["id"], "subset": subset, "scores": scores, "num_correct": n_correct, "results": result}
        )
    per_subset = {name: _mean(values) for name, values in results.items()}
    details: dict[str, Any] = {}
    if ties:
        tie = ties_score(ties)
        ties_name = next(str(r["subset"]) for r in rows if str(r["subset"]).lower() == "ties")
        per_subset[ties_name] = tie.overall
        details["ties"] = {
            "ref_accuracy": tie.ref_accuracy,
            "tied_accuracy": tie.tied_accuracy,
            "correctness_preferred": tie.correctness_preferred,
            "correctness_preferred_hard": tie.correctness_preferred_hard,
            "margin": tie.margin,
        }
    per_subset = dict(sorted(per_subset.items()))
    export = {"model_type": "Seq. Classifier", "chat_template": "tokenizer", **per_subset, "per_prompt": per_prompt}
    return BenchmarkResult("rewardbench2", _mean(list(per_subset.values())), per_subset, len(rows), details, export)


# --- RM-Bench -------------------------------------------------------------------------------------------------------
def style_accuracy(matrices: Sequence[Sequence[Sequence[bool]]]) -> dict[str, float]:
    """RM-Bench's easy / normal / hard accuracy from per-prompt 3×3 matrices ``[i][j]`` = chosen in style i beats
    rejected in style j (styles concise, detailed plain, detailed markdown; ties lose).

    Averaged over prompts, then hard = mean of the upper triangle (chosen plainer than rejected), normal = the
    diagonal, easy = the lower triangle (THU-KEG/RM-Bench ``compute_accuracy``).

    >>> style_accuracy([[[True, False, False], [True, True, False], [True, True, True]]])
    {'easy': 1.0, 'normal': 1.0, 'hard': 0.0}
    """
    size = len(RM_BENCH_STYLES)
    mean = [[_mean([float(m[i][j]) for m in matrices]) for j in range(size)] for i in range(size)]
    upper = [mean[i][j] for i in range(size) for j in range(size) if j > i]
    lower = [mean[i][j] for i in range(size) for j in range(size) if j < i]
    return {"easy": _mean(lower), "normal": _mean([mean[i][i] for i in range(size)]), "hard": _mean(upper)}


def rm_bench_domain(domain: str) -> str:
    """The reported domain: ``safety-refuse`` and ``safety-response`` pool into ``safety``, as RM-Bench reports."""
    return domain.split("-", 1)[0]


def score_rm_bench(rows: Sequence[Row], scorer: Scorer) -> BenchmarkResult:
    """RM-Bench: easy / normal / hard per domain (chat, math, code, safety); a domain's score is the mean of its three
    levels; overall (and overall easy / normal / hard) = the mean over the domains present.

    ``export`` is what RM-Bench's ``run_rm.py`` writes: the rows as given, each with ``score_chosen`` and
    ``score_rejected`` (3 rewards each, in style order).
    """
    pairs = [(row["prompt"], text) for row in rows for text in (*row["chosen"], *row["rejected"])]
    rewards = scorer(pairs)
    matrices: dict[str, list[list[list[bool]]]] = defaultdict(list)
    export = []
    for index, row in enumerate(rows):
        chosen, rejected = rewards[6 * index : 6 * index + 3], rewards[6 * index + 3 : 6 * index + 6]
        matrices[rm_bench_domain(str(row["domain"]))].append([[c > r for r in rejected] for c in chosen])
        export.append({**row, "score_chosen": chosen, "score_rejected": rejected})
    per_domain = {domain: style_accuracy(m) for domain, m in sorted(matrices.items())}
    per_subset = {domain: _mean(list(levels.values())) for domain, levels in per_domain.items()}
    details: dict[str, Any] = {
        level: _mean([levels[level] for levels in per_domain.values()]) for level in RM_BENCH_LEVELS
    }
    details["per_domain"] = per_domain
    return BenchmarkResult("rm-bench", _mean(list(per_subset.values())), per_subset, len(rows), details, export)


# --- JudgeBench -----------------------------------------------------------------------------------------------------
def judgebench_category(source: str) -> str:
    """JudgeBench's categories: mmlu-pro-* → knowledge, livebench-reasoning → reasoning, livebench-math → math,
    livecodebench → coding; any other source is its own category."""
    if source.startswith("mmlu-pro"):
        return "knowledge"
    return {"livebench-reasoning": "reasoning", "livebench-math": "math", "livecodebench": "coding"}.get(source, source)


def judgebench_decision(score_a: float, score_b: float) -> str:
    """A reward model's verdict: the higher-scored response wins; equal scores are "A=B" (counted wrong)."""
    return "A>B" if score_a > score_b else "B>A" if score_b > score_a else "A=B"


def score_judgebench(rows: Sequence[Row], scorer: Scorer) -> BenchmarkResult:
    """JudgeBench pairs: accuracy per category and per source; overall = over all pairs (JudgeBench's figure).

    A reward model scores each response once, so judging both orders gives one decision twice: correct, wrong, or
    a tie that counts as neither (``compute_final_metrics``), i.e. accuracy = share of pairs decided as labelled.
    ``export`` is run_judge.py's output rows: each pair with ``judge_name`` and ``judgments`` (decision, scores).
    """
    pairs = [(row["question"], row[key]) for row in rows for key in ("response_A", "response_B")]
    rewards = scorer(pairs)
    by_category: dict[str, list[bool]] = defaultdict(list)
    by_source: dict[str, list[bool]] = defaultdict(list)
    export = []
    for index, row in enumerate(rows):
        score_a, score_b = rewards[2 * index], rewards[2 * index + 1]
        decision = judgebench_decision(score_a, score_b)
        source = str(row.get("source") or "unknown")
        correct = decision == row["label"]
        by_category[judgebench_category(source)].append(correct)
        by_source[source].append(correct)
        judgment = {"decision": decision, "scores": [score_a, score_b]}
        export.append({**row, "judge_name": "reward_model", "judgments": [judgment]})
    per_subset = {name: _mean([float(v) for v in values]) for name, values in sorted(by_category.items())}
    details = {"per_source": {name: _mean([float(v) for v in values]) for name, values in sorted(by_source.items())}}
    overall = _mean([float(v) for values in by_category.values() for v in values])
    return BenchmarkResult("judgebench", overall, per_subset, len(rows), details, export)


SCORERS: dict[BenchmarkName, Callable[[Sequence[Row], Scorer], BenchmarkResult]] = {
    "rewardbench2": score_rewardbench2,
    "rm-bench": score_rm_bench,
    "judgebench": score_judgebench,
}
