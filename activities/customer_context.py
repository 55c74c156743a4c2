"""Look up what messages say about a customer: company, contact, CSM."""

from __future__ import annotations

from pydantic import BaseModel

from connectors.base import Company, Contact, Crm, Owner


class CustomerDetails(BaseModel):
    company: Company
    contact: Contact | None
    csm: Owner | None


def load_customer_details(crm: Crm, customer_id: str, *, with_contact: bool) -> CustomerDetails:
    company = crm.get_company(customer_id)
    contact = crm.get_primary_contact(customer_id) if with_contact else None
    csm = crm.get_owner(company.owner_id) if company.owner_id else None
    return CustomerDetails(company=company, contact=contact, csm=csm)
