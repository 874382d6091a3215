"""Stored event topics of classes that moved.

A stored event names its class by topic (`module:Aggregate.Event`). When an aggregate class
moves to another module, its old topic must keep resolving, or old streams stop loading: a
service's domain lists its moves (old topic of the aggregate → the class) and its application
registers them with eventsourcing's `register_topic` when it starts. Relays and projections
filter the log by topic in the database, so they ask here for every name a class was stored
under, old ones included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from eventsourcing.utils import get_topic, register_topic

_moved: dict[str, type[Any]] = {}


def register_moved(moves: Mapping[str, type[Any]]) -> None:
    """Old aggregate topic → the class now; idempotent."""
    for old_topic, cls in moves.items():
        register_topic(old_topic, cls)
        _moved[old_topic] = cls


def stored_topics(classes: Iterable[type[Any]]) -> list[str]:
    """Every topic the given event classes may be stored under, current and old."""
    topics = []
    for cls in classes:
        topics.append(get_topic(cls))
        owner, _, event_name = cls.__qualname__.partition(".")
        for old_topic, moved in _moved.items():
            if event_name and moved.__qualname__ == owner and moved.__module__ == cls.__module__:
                topics.append(f"{old_topic}.{event_name}")
    return topics
