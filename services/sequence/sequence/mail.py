"""The e-mail of an automated email step: its template rendered for one lead, and its delivery over SMTP.

A template is {subject, body} in Jinja2 syntax, rendered in an immutable sandbox with the lead's fields
as the only names (`{{ first_name }}`, `{{ company.name }}`) and a short list of text filters
(`{{ first_name|default("there")|title }}`). Templates call nothing (no functions, no methods) and
cannot reach Python internals; `*` and `**` are bounded, and so is what a template renders. A field the
lead does not have is a `TemplateProblem` naming it, so a failed delivery says why; test for an
optional field with `default` or `{% if phone is defined %}`. A field that is present but None renders
empty. The body is plain text (no HTML escaping); the subject is one line (whitespace collapsed).

`send_email` delivers one message, blocking (the mailer runs it in a thread). A `DeliveryFailed` says
whether trying again can help: a 5xx reply or a 5xx-refused recipient is permanent; no connection, a
timeout, a 4xx reply, a server without STARTTLS or refused credentials are temporary (a corrected
setting lets the next attempt through). `retry_delay` spaces the attempts, at most `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_SUBJECT_CHARS = 255
MAX_BODY_CHARS = 100_000
"""What a template may be, and what it may render to, in characters."""
MAX_PRODUCT = 10_000
"""The largest `"text" * n` (in items) or `a * b`, `a ** b` (in bits) a template may compute."""
MAX_ATTEMPTS = 5
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
SAFE_FILTERS: Final = (
    "abs", "capitalize", "count", "d", "default", "first", "float", "int", "join", "last", "length",
    "lower", "round", "string", "title", "trim", "truncate", "upper", "wordcount",
)  # fmt: skip
"""Filters that cannot make a rendering grow beyond the template and the lead (no widths, no repeats)."""
TEMPLATE_PARTS: Final = ("subject", "body")
_OWN_HEADERS: Final = frozenset({"from", "to", "subject", "message-id", "date"})
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class TemplateProblem(ValueError):
    """A template that cannot be rendered (for this lead): the message says why."""


class DeliveryFailed(Exception):
    """An e-mail not delivered: `permanent` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to hand e-mails over: an SMTP server, optionally STARTTLS and a login."""

    host: str
    port: int
    starttls: bool
    username: str | None
    password: str | None = field(repr=False)
    sender: str
    """The From address (`Leadflow <sales@example.com>` or a bare address)."""
    timeout_seconds: float


# -- templates ---------------------------------------------------------------------------------------


class _LeadTemplates(ImmutableSandboxedEnvironment):
    """The sandbox with nothing callable and bounded products and powers."""

    intercepted_binops = frozenset({"*", "**"})

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        raise SecurityError("templates call no functions or methods; use a filter, e.g. {{ name|upper }}")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if _result_size(operator, left, right) > MAX_PRODUCT:
            raise SecurityError(f"{operator!r} would make a result larger than {MAX_PRODUCT} items or bits")
        return super().call_binop(context, operator, left, right)


def _result_size(operator: str, left: Any, right: Any) -> int:
    """At least the size of `left <operator> right` (items of a repeated sequence, bits of an integer),
    known before computing it: squaring a square a few times over would exhaust the memory."""
    if isinstance(left, int) and isinstance(right, int):
        if operator == "**":
            return max(left.bit_length(), 1) * right
        return left.bit_length() + right.bit_length()
    if operator == "*":
        for sized, times in ((left, right), (right, left)):
            if isinstance(sized, str | list | tuple) and isinstance(times, int):
                return len(sized) * times
    return 0  # floats overflow instead of growing


def _blank_none(value: Any) -> Any:
    return "" if value is None else value


def _environment() -> _LeadTemplates:
    environment = _LeadTemplates(autoescape=False, undefined=StrictUndefined, finalize=_blank_none)
    environment.globals.clear()
    environment.filters = {name: environment.filters[name] for name in SAFE_FILTERS}
    return environment


_TEMPLATES: Final = _environment()


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    return _TEMPLATES.from_string(source)


def check_template(template: Mapping[str, str]) -> str | None:
    """Why a {subject, body} template cannot be rendered (a syntax error with its line, an unknown
    filter, a missing or oversized part), or None. Only rendering tells about the lead's fields."""
    for part in TEMPLATE_PARTS:
        source = template.get(part)
        if not isinstance(source, str) or not source.strip():
            return f"the template has no {part}"
        if len(source) > MAX_BODY_CHARS:
            return f"the {part} is longer than {MAX_BODY_CHARS} characters"
        try:
            _compiled(source)
        except TemplateSyntaxError as exc:
            return _syntax_reason(part, exc)
    return None


def render(template: Mapping[str, str], lead: Mapping[str, Any]) -> tuple[str, str]:
    """The (subject, body) of a {subject, body} template for one lead's fields; `TemplateProblem`
    names the part and the reason (a syntax error, a field the lead lacks, an unsafe or oversized result)."""
    reason = check_template(template)
    if reason is not None:
        raise TemplateProblem(reason)
    subject = " ".join(_render_part("subject", template["subject"], lead).split())
    if not subject:
        raise TemplateProblem("the subject renders empty")
    if len(subject) > MAX_SUBJECT_CHARS:
        raise TemplateProblem(f"the subject renders longer than {MAX_SUBJECT_CHARS} characters")
    return subject, _render_part("body", template["body"], lead)


def _render_part(part: str, source: str, lead: Mapping[str, Any]) -> str:
    chunks: list[str] = []
    size = 0
    try:
        # Streamed, so that a runaway loop stops at the limit rather than at the end.
        for chunk in _compiled(source).generate(dict(lead)):
            size += len(chunk)
            if size > MAX_BODY_CHARS:
                raise TemplateProblem(f"the {part} renders longer than {MAX_BODY_CHARS} characters")
            chunks.append(chunk)
    except TemplateProblem:
        raise
    except UndefinedError as exc:
        raise TemplateProblem(f"the {part} uses a field the lead does not have: {exc.message or exc}") from None
    except TemplateError as exc:
        raise TemplateProblem(f"the {part} cannot be rendered: {exc.message or exc}") from None
    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
        raise TemplateProblem(f"the {part} cannot be rendered: {type(exc).__name__}: {exc}") from None
    return "".join(chunks)


def _syntax_reason(part: str, exc: TemplateSyntaxError) -> str:
    return f"the {part} has a syntax error on line {exc.lineno}: {exc.message or exc}"


# -- delivery ----------------------------------------------------------------------------------------


def send_email(
    settings: SmtpSettings,
    *,
    to: str,
    subject: str,
    body: str,
    message_id: str,
    headers: Mapping[str, str] = _NO_HEADERS,
) -> None:
    """Hand one plain-text e-mail to the SMTP server, blocking; `DeliveryFailed` if it was not taken.

    `message_id` (`<unique@domain>`, brackets added when missing) should be the same for every attempt
    at the same e-mail, so that a receiver can recognise a repeat. `headers` are added as given
    (`X-Leadflow-Enrolment`); they cannot replace From, To, Subject, Message-ID or Date.
    """
    message = _message(settings, to=to, subject=subject, body=body, message_id=message_id, headers=headers)
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            smtp.send_message(message, from_addr=parseaddr(settings.sender)[1], to_addrs=[to])
    except OSError as exc:  # smtplib's errors are OSErrors too
        raise _failure(settings, exc) from exc


def _message(
    settings: SmtpSettings, *, to: str, subject: str, body: str, message_id: str, headers: Mapping[str, str]
) -> EmailMessage:
    if "@" not in parseaddr(to)[1]:
        raise DeliveryFailed(f"{to!r} is not an e-mail address", permanent=True)
    clashing = sorted(name for name in headers if name.lower() in _OWN_HEADERS)
    if clashing:
        raise ValueError(f"send_email sets {', '.join(clashing)} itself")
    message = EmailMessage()
    try:
        message["From"] = settings.sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = message_id if message_id.startswith("<") else f"<{message_id}>"
        message["Date"] = formatdate(usegmt=True)
        for name, value in headers.items():
            message[name] = value
    except ValueError as exc:  # a line break in a header: never sent, whatever the retries
        raise DeliveryFailed(f"the message has an invalid header: {exc}", permanent=True) from None
    message.set_content(body)
    return message


def _failure(settings: SmtpSettings, exc: OSError) -> DeliveryFailed:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = [(address, code, _text(reply)) for address, (code, reply) in exc.recipients.items()]
        reason = "; ".join(f"{address} refused: {code} {text}" for address, code, text in refusals)
        return DeliveryFailed(reason, permanent=all(code >= 500 for _, code, _ in refusals))
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryFailed(
            f"the SMTP server refused the login: {exc.smtp_code} {_text(exc.smtp_error)}", permanent=False
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        reason = f"the SMTP server answered {exc.smtp_code} {_text(exc.smtp_error)}"
        return DeliveryFailed(reason, permanent=500 <= exc.smtp_code < 600)
    return DeliveryFailed(f"SMTP server {settings.host}:{settings.port}: {type(exc).__name__}: {exc}", permanent=False)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def retry_delay(attempt: int) -> timedelta:
    """How long to wait after failed attempt number `attempt` (1, 2, …): 30 s, 2 min, 8 min, 32 min,
    then an hour."""
    if attempt < 1:
        raise ValueError(f"attempts are counted from 1, not {attempt}")
    growth: int = 4 ** min(attempt - 1, 10)
    return min(FIRST_RETRY * growth, LONGEST_RETRY)
