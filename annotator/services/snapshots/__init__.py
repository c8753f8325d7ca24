"""Snapshots: freeze a project's aggregated data into an immutable, numbered release, and export it.

One module per concern; callers import the one they need (this package re-exports nothing):

* :mod:`~annotator.services.snapshots.lifecycle` — ``snapshot_create`` and ``snapshot_build``: the state machine
  pending → building → ready | failed, each step a conditional update.
* :mod:`~annotator.services.snapshots.build` — the chunked build pipeline that writes a snapshot's files.
* :mod:`~annotator.services.snapshots.card` — the dataset card's and the licence's inputs.
* :mod:`~annotator.services.snapshots.files` — a ready snapshot's folder, items, exports and bundle.
"""
