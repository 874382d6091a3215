"""referral's aggregates. Pure: standard library and eventsourcing.domain only.

Empty on purpose: the referral features come with their own issue.
"""
