"""Personal data in stored events, and its erasure by crypto-shredding.

A service declares which fields of which stored events (and snapshots) are personal data —
names, email, phone, free-text notes — and whose they are (the data subject: for intake, the
lead). The store's mapper encrypts each such value with the subject's own data key (AES-256-GCM)
before the event is stored, and decrypts it on the way out. Keys live in a table of the same
store (`leadflow_data_keys`), written in the transaction of the first event that needs one.

Erasing a subject destroys its key (in the transaction of the event that records the erasure):
every stored copy of its personal data — in every event, snapshot and sealed dead letter — is
from then on unreadable, while the events themselves, and everything else they say (statuses,
stages, owners, times), stay and still load. Where a value cannot be decrypted any more the
event reads as the declared erased value (`{}` for a contact, `None` for a name, `""` for a note).

A stored value is self-describing, so reading needs no declaration and survives event
upcasting and moved topics: `{"_pd_": <base64 nonce+ciphertext>, "k": <subject hex>, "e":
<erased value>}`. Values stored before a service declared them personal stay plain text.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MARK = "_pd_"
_MARK_BYTES = b'"_pd_"'
_NONCE = 12


@dataclass(frozen=True)
class PersonalFields:
    """The personal values of one event class (or, for snapshots, one aggregate class).

    `paths`: dotted path into the event's state → the value it reads as once erased (a path
    whose value is missing or None is left alone). `subject`: whose data it is, from the
    originator id and the state (default: the originator — the lead itself)."""

    paths: Mapping[str, Any]
    subject: Callable[[UUID, Mapping[str, Any]], UUID | None] = field(
        default=lambda originator_id, _state: originator_id
    )


@dataclass(frozen=True)
class PersonalData:
    """What an application's stored events hold of personal data."""

    events: Mapping[type[Any], PersonalFields] = field(default_factory=dict)
    snapshots: Mapping[type[Any], PersonalFields] = field(default_factory=dict)
    """By aggregate class: the paths are into the aggregate's state."""

    def __post_init__(self) -> None:
        from eventsourcing.utils import get_topic

        object.__setattr__(self, "_snapshot_topics", {get_topic(cls): spec for cls, spec in self.snapshots.items()})

    def of_event(self, event_class: type[Any]) -> PersonalFields | None:
        return self.events.get(event_class)

    def of_snapshot(self, aggregate_topic: str) -> PersonalFields | None:
        return self._snapshot_topics.get(aggregate_topic)  # type: ignore[attr-defined,no-any-return]


class KeyRecorder(Protocol):
    def data_keys(self, subjects: Iterable[UUID]) -> dict[UUID, bytes | None]: ...

    def insert_data_keys(self, keys: Mapping[UUID, bytes]) -> None: ...


class SubjectErased(Exception):
    """The subject's key was destroyed: its personal data can no longer be read or written."""


class DataKeys:
    """The data keys of one store, cached.

    Writing: a subject without a key gets a new one, recorded with the events of the commit in
    progress (`begin` … `committed`), or at once outside a commit (a snapshot, a sealed dead
    letter). An erased subject has a row without a key, so it never gets a new one.

    With a store shared by several processes (`ttl` set), a cached key is trusted for `ttl`
    seconds: a key another replica destroyed stops being usable here within that time.
    """

    def __init__(self, recorder: KeyRecorder, *, ttl: float | None = None, size: int = 10_000) -> None:
        # `size`: ~250 bytes a key; 100,000 cached keys grew intake by ~30 MB (make bench).
        self._recorder = recorder
        self._ttl = ttl
        self._size = size
        self._cache: OrderedDict[UUID, tuple[bytes | None, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._collecting: dict[UUID, bytes] | None = None
        self._absent: set[UUID] = set()
        """Subjects the commit in progress found without a key row (prefetched): no query each."""
        self.created = 0

    # -- the commit in progress (store thread) ----------------------------------------------

    def begin(self) -> dict[UUID, bytes]:
        """Collect the keys the next events need; the recorder writes them in their transaction."""
        self._collecting = {}
        self._absent = set()
        return self._collecting

    def committed(self) -> None:
        pending, self._collecting = self._collecting or {}, None
        self._absent = set()
        with self._lock:
            for subject, key in pending.items():
                self._put(subject, key)
        self.created += len(pending)

    def abandoned(self) -> None:
        # A key made meanwhile by another writer makes the commit fail on its row: retried, the
        # next attempt loads that key.
        self._collecting = None
        self._absent = set()

    def erased(self, subjects: Iterable[UUID]) -> None:
        with self._lock:
            for subject in subjects:
                self._put(subject, None)

    # -- keys ---------------------------------------------------------------------------

    def for_writing(self, subject: UUID) -> bytes | None:
        """The subject's key, made if it has none; None if the subject was erased."""
        if self._collecting is not None and subject in self._collecting:
            return self._collecting[subject]
        if self._collecting is None or subject not in self._absent:
            found = self._known([subject])
            if subject in found:
                return found[subject]
        key = AESGCM.generate_key(bit_length=256)
        if self._collecting is not None:
            self._collecting[subject] = key
            return key
        self._recorder.insert_data_keys({subject: key})  # does nothing if another writer won
        return self._known([subject], refresh=True).get(subject)

    def for_reading(self, subject: UUID) -> bytes | None:
        if self._collecting is not None and subject in self._collecting:
            return self._collecting[subject]
        return self._known([subject]).get(subject)

    def prefetch(self, subjects: Iterable[UUID]) -> None:
        """Load many subjects' keys with one query (a batch about to be written or read). In a
        commit, the subjects found without a key get one without asking the store again."""
        wanted = list(subjects)
        found = self._known(wanted)
        if self._collecting is not None:
            self._absent.update(s for s in wanted if s not in found)

    def _known(self, subjects: Iterable[UUID], refresh: bool = False) -> dict[UUID, bytes | None]:
        found: dict[UUID, bytes | None] = {}
        missing: list[UUID] = []
        now = time.monotonic()
        with self._lock:
            for subject in subjects:
                hit = None if refresh else self._cache.get(subject)
                if hit is not None and (self._ttl is None or now - hit[1] < self._ttl):
                    found[subject] = hit[0]
                else:
                    missing.append(subject)
        if missing:
            loaded = self._recorder.data_keys(missing)
            with self._lock:
                for subject, key in loaded.items():
                    self._put(subject, key)
            found.update(loaded)
        return found

    def _put(self, subject: UUID, key: bytes | None) -> None:
        self._cache[subject] = (key, time.monotonic())
        self._cache.move_to_end(subject)
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)

    # -- values -------------------------------------------------------------------------

    def seal(self, subject: UUID, plaintext: bytes) -> bytes:
        """Encrypt bytes with the subject's key (made if needed). Raises SubjectErased."""
        key = self.for_writing(subject)
        if key is None:
            raise SubjectErased(f"data subject {subject} was erased")
        return _encrypt(key, subject, plaintext)

    def open(self, subject: UUID, sealed: bytes) -> bytes | None:
        """The plaintext, or None once the subject's key is destroyed (or it has none)."""
        key = self.for_reading(subject)
        if key is None:
            return None
        try:
            return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], subject.bytes)
        except InvalidTag:
            return None


def _encrypt(key: bytes, subject: UUID, plaintext: bytes) -> bytes:
    """A fresh nonce + the AES-GCM ciphertext, bound to the subject (associated data)."""
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, subject.bytes)


# -- event states -------------------------------------------------------------------------


def encrypt_paths(state: dict[str, Any], spec: PersonalFields, subject: UUID, keys: DataKeys) -> dict[str, Any]:
    """A copy of `state` with the values at the spec's paths replaced by sealed markers
    (the containers along each path are copied; the domain event's own dicts are not touched)."""
    out = dict(state)
    key: bytes | bool | None = False  # looked up once, when the first value needs it
    for path, erased in spec.paths.items():
        parts = path.split(".")
        holder = out
        for part in parts[:-1]:
            inner = holder.get(part)
            if not isinstance(inner, dict):
                holder = None  # type: ignore[assignment]
                break
            holder[part] = holder = dict(inner)
        if holder is None:
            continue
        value = holder.get(parts[-1])
        if value is None or value == erased or (isinstance(value, dict) and MARK in value):
            continue
        if key is False:
            key = keys.for_writing(subject)
        holder[parts[-1]] = _marker(value, erased, subject, key if isinstance(key, bytes) else None)
    return out


def _marker(value: Any, erased: Any, subject: UUID, key: bytes | None) -> dict[str, Any]:
    marker: dict[str, Any] = {MARK: None, "k": subject.hex}
    if erased is not None:
        marker["e"] = erased
    if key is not None:  # an erased subject's new personal data is not stored at all
        sealed = _encrypt(key, subject, json.dumps(value, separators=(",", ":")).encode())
        marker[MARK] = base64.b64encode(sealed).decode()
    return marker


def may_hold_markers(stored_state: bytes) -> bool:
    return _MARK_BYTES in stored_state


def decrypt_markers(state: Any, keys: DataKeys) -> Any:
    """`state` with every sealed marker replaced by its value (or its erased value)."""
    if isinstance(state, dict):
        if MARK in state and "k" in state:
            return _open_marker(state, keys)
        return {k: decrypt_markers(v, keys) for k, v in state.items()}
    if isinstance(state, list):
        return [decrypt_markers(v, keys) for v in state]
    return state


def subjects_of_markers(state: Any, found: set[UUID]) -> set[UUID]:
    if isinstance(state, dict):
        if MARK in state and "k" in state:
            found.add(UUID(hex=state["k"]))
        else:
            for value in state.values():
                subjects_of_markers(value, found)
    elif isinstance(state, list):
        for value in state:
            subjects_of_markers(value, found)
    return found


def _open_marker(marker: dict[str, Any], keys: DataKeys) -> Any:
    erased = marker.get("e")
    sealed = marker.get(MARK)
    if not sealed:
        return erased
    subject = UUID(hex=marker["k"])
    plain = keys.open(subject, base64.b64decode(sealed))
    return erased if plain is None else json.loads(plain)
