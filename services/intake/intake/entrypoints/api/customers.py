"""Customer routes: one customer, and the customers with a given phone or email.

A customer is seen by whoever may see one of its leads (the leads' object rules: an admin every
customer, a sales manager those of their teams' leads, a seller those of their own leads); any
other customer is answered exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import EmailStr, TypeAdapter, ValidationError

from leadflow_shared.auth import Principal, Role
from leadflow_shared.auth.http import require
from leadflow_shared.contracts.inbound import InvalidPhone, normalise_phone
from leadflow_shared.store import StoreWorker

from ...application import CustomerNotFound, IntakeApplication, LeadNotFound
from ...domain import Customer
from ...projections import LeadReadModel, customer_view
from .visibility import LeadVisibility

Reader = Annotated[Principal, Depends(require("leads:read"))]
_EMAIL = TypeAdapter(EmailStr)


def customers_router(app: IntakeApplication, worker: StoreWorker, read_model: LeadReadModel) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["customers"])

    # A customer's leads are converted: none is in the pool a seller may take from.
    leads = LeadVisibility(app, worker, read_model)

    async def visible(caller: Principal, customer: Customer) -> bool:
        if caller.has(Role.ADMIN):
            return True
        for lead_id in customer.lead_ids:
            try:
                if await leads.sees(caller, UUID(lead_id)):
                    return True
            except LeadNotFound:
                continue
        return False

    @router.get("/customers")
    async def find_customers(
        caller: Reader,
        phone: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=40,
                description="exact match on the normalised (E.164) phone; `+` as %2B (a bare `+` reads as a space, "
                "which is taken as the `+`)",
            ),
        ] = None,
        country: Annotated[
            str | None, Query(pattern=r"^[A-Z]{2}$", description="reads a national `phone` (ISO 3166 alpha-2)")
        ] = None,
        email: Annotated[
            str | None, Query(min_length=3, max_length=320, description="exact match, case-insensitive")
        ] = None,
    ) -> dict[str, Any]:
        """The customers whose phone and/or email is exactly the one given (both given: both
        match), through the contact index: at most the first 20 customers sharing the value.
        The values are personal data: intake does not log them (a proxy in front may log URLs)."""
        if phone is None and email is None:
            raise _invalid("phone", "give phone or email (or both)")
        e164 = _phone(phone, country) if phone is not None else None
        address = _email(email) if email is not None else None
        found = await worker.call(app.customers.find, phone=e164, email=address)
        return {"items": [customer_view(c) for c in found if await visible(caller, c)]}

    @router.get("/customers/{customer_id}")
    async def get_customer(customer_id: UUID, caller: Reader) -> dict[str, Any]:
        """One customer: name, email, phone, company (empty once the lead it was made from is
        erased), the lead it was created from and when, and every linked lead with when it was linked."""
        customer = await worker.call(app.customers.get, customer_id)
        if not await visible(caller, customer):
            raise CustomerNotFound(customer_id)
        return customer_view(customer)

    return router


def _phone(raw: str, country: str | None) -> str:
    if raw.startswith(" ") and raw.strip().replace(" ", "").isdigit():
        raw = "+" + raw.lstrip()  # an unencoded `+` in a query string arrives as a space
    try:
        return normalise_phone(raw, country)
    except InvalidPhone as exc:
        raise _invalid("phone", exc.reason.replace("company.country", "country")) from None


def _email(raw: str) -> str:
    try:
        return _EMAIL.validate_python(raw).lower()
    except ValidationError:
        raise _invalid("email", "is not a valid email address") from None


def _invalid(name: str, reason: str) -> HTTPException:
    return HTTPException(422, detail=[{"loc": ["query", name], "msg": reason, "type": "invalid_query"}])
