"""sequence's aggregates. Pure: standard library and eventsourcing.domain only.

Empty on purpose: the sequence features come with their own issue.
"""
