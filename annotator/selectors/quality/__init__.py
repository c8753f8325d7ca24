"""Reads for the data lead's quality audit: progress, agreement (now and over time), annotators, disagreements.

Every figure comes from one fast query (``annotation_frame``: the long format of ``annotator.stats``) and the pure
statistics; these modules only shape the results for pages and the API, one concern each:
``progress``, ``agreement``, ``annotators``, ``disagreements``, ``rules`` (and ``common``). Which annotations count:

* overview agreement and the disagreement queue: current annotations that were not rejected (a rejected one is
  back with its annotator and will be replaced);
* the annotators table: every current annotation, rejected ones included, since how an annotator worked is the
  question there;
* aggregation rules: as their ``review_filter`` parameter says.
"""
