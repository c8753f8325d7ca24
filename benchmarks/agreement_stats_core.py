"""Agreement statistics core: 100,000 comparisons x 5 annotators, from the long DataFrame to the last number.

Times every figure of the project overview (Krippendorff's alpha and pooled quadratic kappa for the five
HelpSteer2 attributes over (comparison, response) units, ordinal alpha of the preference strength and nominal alpha
of its direction), then the same with 1,000-resample bootstrap CIs, the per-annotator report and the HelpSteer2
aggregation rule. The database read is not included (see benchmarks/agreement.py).

Usage: ``python benchmarks/agreement_stats_core.py [--comparisons N] [--annotators K]``.
Prints ``name: value unit`` lines; the headline is ``agreement_core_seconds``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annotator.stats.aggregation import HelpSteer2Rule, aggregate
from annotator.stats.agreement import agreement_overview, annotator_summary
from annotator.stats.simulation import HELPSTEER2_ATTRIBUTES, SimulatedAnnotator, make_truth, simulate_annotations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comparisons", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=5)
    args = parser.parse_args()

    started = time.perf_counter()
    truth = make_truth(args.comparisons, seed=0)
    profiles = ["careful", "careful", "lenient", "harsh", "random"]
    team = [
        SimulatedAnnotator(profiles[i % len(profiles)], seed=i, annotator_id=f"annotator-{i}")
        for i in range(args.annotators)
    ]
    frame = simulate_annotations(truth, team, per_comparison_k=args.annotators, seed=1)
    print(f"simulate_seconds: {time.perf_counter() - started:.2f} s")
    print(f"annotation_rows: {len(frame)} rows")

    started, cpu_started = time.perf_counter(), time.process_time()
    overview = agreement_overview(frame, HELPSTEER2_ATTRIBUTES)
    core = time.perf_counter() - started
    print(f"agreement_core_seconds: {core:.2f} s")
    # CPU time of this process: steadier than wall time on a shared machine.
    print(f"agreement_core_cpu_seconds: {time.process_time() - cpu_started:.2f} s")
    for measure, row in overview.iterrows():
        print(f"alpha_{measure}: {row['alpha']:.4f} alpha")
        print(f"kappa_{measure}: {row['kappa']:.4f} kappa")

    started = time.perf_counter()
    agreement_overview(frame, HELPSTEER2_ATTRIBUTES, with_kappa=False)
    print(f"agreement_alpha_only_seconds: {time.perf_counter() - started:.2f} s")

    started = time.perf_counter()
    agreement_overview(frame, HELPSTEER2_ATTRIBUTES, n_resamples=1000)
    print(f"agreement_with_bootstrap_1000_seconds: {time.perf_counter() - started:.2f} s")

    started = time.perf_counter()
    summary = annotator_summary(frame, HELPSTEER2_ATTRIBUTES)
    print(f"annotator_summary_seconds: {time.perf_counter() - started:.2f} s")
    print(f"outlier_annotators: {int(summary['outlier'].sum())} annotators")

    started = time.perf_counter()
    result = aggregate(frame, HelpSteer2Rule(), HELPSTEER2_ATTRIBUTES)
    print(f"aggregate_helpsteer2_seconds: {time.perf_counter() - started:.2f} s")
    print(f"aggregate_kept: {int(result.comparisons['kept'].sum())} comparisons")

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(f"peak_rss: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
