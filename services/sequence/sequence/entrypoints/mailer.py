"""The mailer: delivers the automated e-mails the outbox holds (a BackgroundJob).

An automated e-mail step records `EmailQueued` (with its template); the enrolment projection puts
it in the outbox. The mailer takes what is due from the outbox, oldest first, reads the lead's
personal fields from intake (they never leave intake otherwise), renders the template (sandboxed
Jinja2, the lead's fields only), hands it to the SMTP server, and records the outcome through the
application: `EmailSent` (the step completes), or `EmailFailed` — final when trying again cannot
help (an SMTP 5xx, a lead without an address, a template the lead's fields cannot fill) or after
`MAX_ATTEMPTS`, else the outbox spaces the next attempt (`retry_delay`).

Delivery is at least once: a crash between the server's acceptance and the recording sends the
e-mail again after the restart, with the same Message-ID (receivers can recognise it). One mailer
runs per store (under a PostgreSQL lease when the store is shared). `/readyz` names a mailer whose
deliveries keep failing for a reason trying again may fix (no SMTP server, intake unreachable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from leadflow_shared.clock import Clock, SystemClock
from leadflow_shared.health import Health
from leadflow_shared.lease import PublishLease
from leadflow_shared.store import StoreWorker

from ..application import SequenceApplication
from ..directory import DirectoryUnavailable, LeadDirectory
from ..mail import MAX_ATTEMPTS, DeliveryFailed, SmtpSettings, TemplateProblem, render, send_email
from ..projections import EnrolmentList, OutgoingEmail

log = logging.getLogger(__name__)
FAILING_AFTER = 3
"""Consecutive temporary failures before `/readyz` names the mailer."""


def message_id_of(email: OutgoingEmail) -> str:
    """The same for every attempt at the same e-mail."""
    return f"<{uuid5(NAMESPACE_URL, f'leadflow:sequence:{email.enrolment_id}:{email.step_id}')}@leadflow>"


def template_fields(contact: dict[str, Any]) -> dict[str, Any]:
    """The names a template sees: intake's contact fields, with the company's name inside `company`."""
    company = dict(contact.get("company") or {})
    if contact.get("company_name") is not None:
        company["name"] = contact["company_name"]
    return {**contact, "company": company}


class Mailer:
    def __init__(
        self,
        app: SequenceApplication,
        worker: StoreWorker,
        outbox: EnrolmentList,
        directory: LeadDirectory,
        smtp: SmtpSettings,
        *,
        clock: Clock | None = None,
        health: Health | None = None,
        lease: PublishLease | None = None,
        poll_seconds: float = 1.0,
        batch_size: int = 50,
    ) -> None:
        self.app = app
        self.worker = worker
        self.outbox = outbox
        self.directory = directory
        self.smtp = smtp
        self.clock = clock or SystemClock()
        self.health = health or Health()
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.name = "mailer"
        self.sent = 0
        self.failed = 0
        self._failing = 0
        self._recorded: dict[tuple[str, str], int] = {}
        """(enrolment, step) → the attempts recorded, until the outbox shows them (it follows the
        store a moment later): a row not caught up yet is not tried twice."""
        self._stopping = asyncio.Event()

    async def send_due(self) -> int:
        """Try every e-mail due now (a batch at a time); returns how many were tried."""
        tried = 0
        while not self._stopping.is_set():
            due = await asyncio.to_thread(self.outbox.due_emails, self.clock.now(), self.batch_size)
            keys = {(str(e.enrolment_id), e.step_id) for e in due}
            self._recorded = {k: v for k, v in self._recorded.items() if k in keys}
            fresh = [e for e in due if self._recorded.get((str(e.enrolment_id), e.step_id), 0) <= e.attempts]
            if not fresh:
                return tried
            for email in fresh:
                await self.deliver(email)
                tried += 1
        return tried

    async def deliver(self, email: OutgoingEmail) -> None:
        attempt = email.attempts + 1
        key = (str(email.enrolment_id), email.step_id)
        try:
            contact = await self.directory.contact(email.lead_id)
            if contact is None:
                raise DeliveryFailed("the lead is no longer in intake (deleted or erased)", permanent=True)
            address = contact.get("email")
            if not address:
                raise DeliveryFailed("the lead has no e-mail address", permanent=True)
            try:
                subject, body = render({"subject": email.subject, "body": email.body}, template_fields(contact))
            except TemplateProblem as exc:
                raise DeliveryFailed(str(exc), permanent=True) from None
            await asyncio.to_thread(
                send_email,
                self.smtp,
                to=address,
                subject=subject,
                body=body,
                message_id=message_id_of(email),
                headers={"X-Leadflow-Enrolment": str(email.enrolment_id), "X-Leadflow-Step": email.step_id},
            )
        except (DeliveryFailed, DirectoryUnavailable) as exc:
            permanent = isinstance(exc, DeliveryFailed) and exc.permanent
            final = permanent or attempt >= MAX_ATTEMPTS
            reason = str(exc)[:1000]
            await self.worker.call(
                lambda: self.app.execute(
                    self.app.email_failed,
                    email.enrolment_id,
                    email.step_id,
                    reason=reason,
                    attempt=attempt,
                    final=final,
                )
            )
            self._recorded[key] = attempt
            self.failed += 1
            if permanent:
                return
            self._failing += 1
            if self._failing >= FAILING_AFTER:
                self.health.report(self.name, f"{self._failing} deliveries in a row failed; the last: {reason}"[:300])
            return
        await self.worker.call(
            lambda: self.app.execute(
                self.app.email_sent, email.enrolment_id, email.step_id, message_id=message_id_of(email)
            )
        )
        self._recorded[key] = MAX_ATTEMPTS + 1
        self.sent += 1
        self._failing = 0
        self.health.clear(self.name)

    # -- BackgroundJob --------------------------------------------------------------------

    async def run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            wait = self.poll_seconds
            try:
                if self.lease is not None and not await self.lease.hold():
                    wait = self.lease.retry_seconds
                else:
                    await self.send_due()
                    failures = 0
            except Exception as exc:
                failures += 1
                log.warning("mailer failed (attempt %s): %s", failures, exc, exc_info=failures == 1)
                if failures >= 3:
                    self.health.report(self.name, f"failing: {type(exc).__name__}: {exc}"[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=wait)
        if self.lease is not None:
            await self.lease.release()
        close = getattr(self.directory, "aclose", None)
        if close is not None:
            await close()

    def stop(self) -> None:
        self._stopping.set()
