"""HubSpot implementation of :class:`connectors.base.Crm` (hubspot-api-client 12).

Blocking: call it from synchronous Temporal activities on a thread pool, never inside an
``async def``. One instance is safe to share between threads.

Idempotent creates
    ``create_task`` / ``create_note`` first search for a record whose custom property
    ``cshub_idempotency_key`` equals the key, and create one (with the key set) only when
    none exists. **That property must exist on the task and note objects of a real
    portal** (single-line text): create it there as docs/operators/deployment.md says (``cshub setup``
    registers Temporal's search attributes, not HubSpot properties). The
    sandbox accepts any property. HubSpot's search index lags writes by a few seconds, so a
    retry fired within that window after a create whose answer was lost can still create
    a duplicate; Temporal's retry back-off makes that rare, not impossible.

Failures
    Only :class:`~connectors.errors.ConnectorError` subclasses leave this module. urllib3's
    own retries are switched off (``Retry(total=0)``): Temporal owns retrying, and a
    silent SDK retry would hide the ``Retry-After`` the activity needs.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from types import ModuleType
from typing import Any, TypeVar, Unpack

import hubspot.crm.objects.notes as notes_pkg
import hubspot.crm.objects.tasks as tasks_pkg
import urllib3
from hubspot import HubSpot
from hubspot.crm.companies import BatchInputSimplePublicObjectBatchInput as CompanyBatchInput
from hubspot.crm.companies import BatchReadInputSimplePublicObjectId as CompanyBatchReadInput
from hubspot.crm.companies import Filter as CompanyFilter
from hubspot.crm.companies import FilterGroup as CompanyFilterGroup
from hubspot.crm.companies import PublicObjectSearchRequest as CompanySearch
from hubspot.crm.companies import SimplePublicObjectBatchInput as CompanyBatchItem
from hubspot.crm.companies import SimplePublicObjectId as CompanyId
from hubspot.crm.companies import SimplePublicObjectInput as CompanyInput
from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, SimplePublicObjectId
from hubspot.crm.contacts import SimplePublicObjectInput as ContactInput

from connectors.base import (
    MAX_BATCH_RECORDS,
    Company,
    CompanyPage,
    Contact,
    CrmContact,
    CrmEmail,
    CrmFile,
    CrmRecordRef,
    Deal,
    NewTask,
    Owner,
)
from connectors.errors import (
    ActivityCancelled,
    ConnectorError,
    NotFoundError,
    PermanentConnectorError,
)
from connectors.http_errors import (
    classify_http,
    reading_response,
    transport_error,
    unexpected_error,
)
from domain.deal_stages import DealStage
from domain.preferences import OPT_OUT_PROPERTY, parse_opt_outs

SYSTEM = "hubspot"
IDEMPOTENCY_PROPERTY = "cshub_idempotency_key"
COMPANY_PROPERTIES = (
    "name",
    "domain",
    "cshub_tier",
    "hubspot_owner_id",
    "cshub_timezone",
    "lifecyclestage",
    # Value summary shown in renewal reminders (fed by the health sweep / CSMs).
    "cshub_health_score",
    "cshub_health_category",
    "cshub_account_executive_id",  # the AE: alerted with the CSM, owns upgrade tasks
    "cshub_usage_summary",
    "cshub_outcomes",
    # Lifecycle facts workflows decide on (onboarding: customer since; renewal: the ARR).
    "cshub_customer_since",
    "cshub_arr",
)
CONTACT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "hs_language",
    "hs_timezone",
    "hs_email_optout",
    OPT_OUT_PROPERTY,
)
DEAL_PROPERTIES = ("dealname", "dealstage", "cshub_tier")
TASK_PRIORITIES = frozenset({"LOW", "MEDIUM", "HIGH"})
# A company with many contacts: look at this many associations for one with an e-mail.
_MAX_CONTACTS_CHECKED = 10
_ASSOCIATION_PAGE = 500  # HubSpot's v4 maximum
_BATCH_READ = MAX_BATCH_RECORDS  # HubSpot's batch maximum

T = TypeVar("T")
R = TypeVar("R")


class HubSpotCrm:
    """The CRM through HubSpot's v3 objects API.

    ``base_url`` is the API root (the sandbox's ``http://127.0.0.1:PORT`` in development).
    ``task_to_company_association_type_id`` / ``note_to_company_association_type_id`` are
    HubSpot-defined association type ids (192 / 190 today) kept in configuration because
    HubSpot owns them. ``portal_url`` (e.g. ``https://app.hubspot.com/contacts/12345``)
    only serves to build links to records for people (see :meth:`company_url`).
    """

    def __init__(
        self,
        access_token: str,
        base_url: str = "https://api.hubapi.com",
        timeout_s: float = 10.0,
        task_to_company_association_type_id: int = 192,
        note_to_company_association_type_id: int = 190,
        portal_url: str | None = None,
        max_connections: int = 10,
    ) -> None:
        base = base_url.rstrip("/")
        # `host` is what the generated APIs read; the generic `api_request()` reads
        # `base_url` instead, so both are set (see CONNECTORS.md).
        client = HubSpot(
            access_token=access_token,
            host=base,
            base_url=base,
            retry=urllib3.Retry(total=0, redirect=0, raise_on_status=False),
            connection_pool_maxsize=max_connections,
        )
        # Every attribute access on the discovery objects builds a new ApiClient with its
        # own connection pool, so each API is built once here and reused.
        crm = client.crm
        self._companies = crm.companies.basic_api
        self._companies_batch = crm.companies.batch_api
        self._companies_search = crm.companies.search_api
        self._pipelines = crm.pipelines.pipelines_api
        self._contacts = crm.contacts.basic_api
        self._contacts_batch = crm.contacts.batch_api
        self._associations = crm.associations.v4.basic_api
        self._deals = crm.deals.basic_api
        self._owners = crm.owners.owners_api
        self._tasks = crm.objects.tasks.basic_api
        self._tasks_search = crm.objects.tasks.search_api
        self._notes = crm.objects.notes.basic_api
        self._notes_search = crm.objects.notes.search_api
        self._emails = crm.objects.emails.basic_api
        self._files = client.files.files_api
        self._timeout = timeout_s
        self._task_assoc = task_to_company_association_type_id
        self._note_assoc = note_to_company_association_type_id
        self._portal_url = portal_url.rstrip("/") if portal_url else None

    # -- reads ---------------------------------------------------------------------------

    def get_company(self, company_id: str) -> Company:
        return self._read(
            "get_company",
            f"company {company_id}",
            self._to_company,
            self._companies.get_by_id,
            company_id,
            properties=list(COMPANY_PROPERTIES),
        )

    # -- the whole portfolio (health sweep) ---------------------------------------------

    def list_companies(
        self, *, after: str | None, limit: int = 100, properties: Sequence[str] = ()
    ) -> CompanyPage:
        """``GET /crm/v3/objects/companies`` (the list API), not the search API: search
        stops at 10,000 results, has its own much lower rate limit and lags writes, while
        the list walks every company in id order with a cursor that survives inserts."""
        if not 1 <= limit <= MAX_BATCH_RECORDS:
            raise ValueError(f"limit must be 1..{MAX_BATCH_RECORDS}, not {limit}")
        target = f"companies after {after}" if after else "companies, first page"
        wanted = _with_company_properties(properties)
        paging: dict[str, Any] = {"after": after} if after else {}
        page = self._call_json(
            "list_companies",
            target,
            self._companies.get_page,
            limit=limit,
            properties=wanted,
            archived=False,
            **paging,
        )
        with reading_response(SYSTEM, "list_companies", target):
            companies = [
                self._company(str(obj["id"]), obj.get("properties"), properties)
                for obj in page.get("results") or []
            ]
            nxt = (page.get("paging") or {}).get("next") or {}
            next_after = str(nxt["after"]) if nxt.get("after") else None
            return CompanyPage(companies=companies, next_after=next_after)

    def batch_read_companies(self, ids: Sequence[str], properties: Sequence[str]) -> list[Company]:
        wanted_ids = list(dict.fromkeys(str(i) for i in ids))
        if len(wanted_ids) > MAX_BATCH_RECORDS:
            raise ValueError(
                f"at most {MAX_BATCH_RECORDS} companies per batch read, not {len(wanted_ids)}"
            )
        if not wanted_ids:
            return []
        target = _batch_target(wanted_ids)
        batch = self._call(
            "batch_read_companies",
            target,
            self._companies_batch.read,
            CompanyBatchReadInput(
                inputs=[CompanyId(id=i) for i in wanted_ids],
                properties=_with_company_properties(properties),
                properties_with_history=[],
            ),
            archived=False,
        )
        with reading_response(SYSTEM, "batch_read_companies", target):
            found = {str(obj.id): obj for obj in batch.results or []}
            return [
                self._to_company(found[i], properties) for i in wanted_ids if i in found
            ]  # missing ones (HubSpot's 207 "errors") are left out

    def batch_update_companies(self, updates: Mapping[str, Mapping[str, str]]) -> int:
        """One ``POST .../companies/batch/update``. Never retried by urllib3 (``Retry(total=0)``):
        a 429 becomes RetryableConnectorError with HubSpot's delay for the activity."""
        if len(updates) > MAX_BATCH_RECORDS:
            raise ValueError(
                f"at most {MAX_BATCH_RECORDS} companies per batch update, not {len(updates)}"
            )
        if not updates:
            return 0
        ids = [str(i) for i in updates]
        target = _batch_target(ids)
        result = self._call_json(
            "batch_update_companies",
            target,
            self._companies_batch.update,
            CompanyBatchInput(
                inputs=[
                    CompanyBatchItem(id=str(company_id), properties=dict(props))
                    for company_id, props in updates.items()
                ]
            ),
        )
        with reading_response(SYSTEM, "batch_update_companies", target):
            return len({str(obj["id"]) for obj in result.get("results") or []})

    def get_primary_contact(self, company_id: str) -> Contact | None:
        """The first associated contact that has an e-mail address (HubSpot's order)."""
        contacts = self._company_associations("get_primary_contact", company_id, "contacts")
        contact_ids = contacts[:_MAX_CONTACTS_CHECKED]
        for contact_id in contact_ids:
            contact = self._call(
                "get_primary_contact",
                f"company {company_id}, contact {contact_id}",
                self._contacts.get_by_id,
                contact_id,
                properties=list(CONTACT_PROPERTIES),
            )
            with reading_response(SYSTEM, "get_primary_contact", f"contact {contact_id}"):
                found = _to_contact(contact, ())
            if found is not None:
                return Contact.model_validate(found.model_dump(exclude={"properties"}))
        return None

    def list_company_contacts(
        self, company_id: str, *, properties: Sequence[str] = (), limit: int = 500
    ) -> list[CrmContact]:
        """All associated contacts (v4 associations, paged), read in batches of 100."""
        target = f"company {company_id}"
        ids: list[str] = []
        after: str | None = None
        while len(ids) < limit:
            paging: dict[str, Any] = {"limit": _ASSOCIATION_PAGE}
            if after:
                paging["after"] = after
            page = self._call(
                "list_company_contacts",
                target,
                self._associations.get_page,
                "companies",
                company_id,
                "contacts",
                **paging,
            )
            with reading_response(SYSTEM, "list_company_contacts", target):
                for item in page.results or []:
                    contact_id = str(item.to_object_id)
                    if contact_id not in ids:
                        ids.append(contact_id)
                nxt = getattr(getattr(page, "paging", None), "next", None)
                after = str(nxt.after) if nxt is not None and nxt.after else None
            if after is None:
                break
        wanted = [*CONTACT_PROPERTIES, *(p for p in properties if p not in CONTACT_PROPERTIES)]
        contacts: list[CrmContact] = []
        ids = ids[:limit]
        for start in range(0, len(ids), _BATCH_READ):
            chunk = ids[start : start + _BATCH_READ]
            batch = self._call(
                "list_company_contacts",
                f"{target}, contacts {chunk[0]}…{chunk[-1]}",
                self._contacts_batch.read,
                BatchReadInputSimplePublicObjectId(
                    inputs=[SimplePublicObjectId(id=i) for i in chunk], properties=wanted
                ),
            )
            with reading_response(SYSTEM, "list_company_contacts", target):
                found = {str(obj.id): obj for obj in batch.results or []}
                for contact_id in chunk:  # in association order; deleted ones left out
                    obj = found.get(contact_id)
                    contact = _to_contact(obj, properties) if obj is not None else None
                    if contact is not None:
                        contacts.append(contact)
        return contacts

    def get_contact(self, contact_id: str, *, properties: Sequence[str] = ()) -> CrmContact:
        target = f"contact {contact_id}"
        contact = self._read(
            "get_contact",
            target,
            lambda obj: _to_contact(obj, properties),
            self._contacts.get_by_id,
            contact_id,
            properties=[*CONTACT_PROPERTIES, *properties],
        )
        if contact is None:
            raise PermanentConnectorError(SYSTEM, "get_contact", target, "it has no e-mail address")
        return contact

    def find_contact_by_email(
        self, email: str, *, properties: Sequence[str] = ()
    ) -> CrmContact | None:
        """By ``idProperty=email``: consistent at once, unlike the search index."""
        address = email.strip().lower()
        try:
            return self._read(
                "find_contact_by_email",
                "contact by e-mail",  # the address itself stays out of messages and logs
                lambda obj: _to_contact(obj, properties),
                self._contacts.get_by_id,
                address,
                properties=[*CONTACT_PROPERTIES, *properties],
                id_property="email",
            )
        except NotFoundError:
            return None

    def update_contact(self, contact_id: str, properties: dict[str, str]) -> None:
        self._call(
            "update_contact",
            f"contact {contact_id}",
            self._contacts.update,
            contact_id,
            ContactInput(properties=properties),
        )

    def get_owner(self, owner_id: str) -> Owner:
        return self._read(
            "get_owner",
            f"owner {owner_id}",
            _to_owner,
            self._owners.get_by_id,
            owner_id,
            id_property="id",
        )

    def get_email(self, email_id: str) -> CrmEmail:
        target = f"email {email_id}"
        with_links = partial(
            self._emails.get_by_id,
            properties=list(EMAIL_PROPERTIES),
            associations=["contacts", "companies"],
        )
        obj = self._call("get_email", target, with_links, email_id)
        with reading_response(SYSTEM, "get_email", target):
            props = obj.properties or {}
            return CrmEmail(
                id=str(obj.id),
                direction=props.get("hs_email_direction") or "",
                subject=props.get("hs_email_subject") or "",
                text=props.get("hs_email_text") or "",
                sender=props.get("hs_email_from_email") or _header_sender(props),
                at=_parse_time(props.get("hs_timestamp")),
                contact_ids=_associated_ids(obj, "contacts"),
                company_ids=_associated_ids(obj, "companies"),
            )

    def get_deal(self, deal_id: str) -> Deal:
        return self._read(
            "get_deal",
            f"deal {deal_id}",
            _to_deal,
            self._deals.get_by_id,
            deal_id,
            properties=list(DEAL_PROPERTIES),
            associations=["companies"],
        )

    def list_deal_stages(self) -> list[DealStage]:
        """``GET /crm/v3/pipelines/deals``: each stage with its ``isClosed`` and
        ``probability`` metadata (strings in HubSpot's answer)."""
        answer = self._call("list_deal_stages", "deal pipelines", self._pipelines.get_all, "deals")
        with reading_response(SYSTEM, "list_deal_stages", "deal pipelines"):
            stages = []
            for pipeline in answer.results or []:
                for stage in pipeline.stages or []:
                    meta = stage.metadata or {}
                    stages.append(
                        DealStage(
                            pipeline_id=str(pipeline.id),
                            pipeline_label=pipeline.label or "",
                            stage_id=str(stage.id),
                            label=stage.label or "",
                            is_closed=str(meta.get("isClosed", "")).lower() == "true",
                            probability=_probability(meta.get("probability")),
                        )
                    )
            return stages

    def find_company_by_property(self, name: str, value: str) -> Company | None:
        """Through the search API (HubSpot's index lags writes by a few seconds)."""
        target = f"company by {name}"
        request = CompanySearch(
            filter_groups=[
                CompanyFilterGroup(
                    filters=[CompanyFilter(property_name=name, operator="EQ", value=value)]
                )
            ],
            properties=list(COMPANY_PROPERTIES),
            limit=10,
        )
        found = self._call(
            "find_company_by_property",
            target,
            self._companies_search.do_search,
            public_object_search_request=request,
        )
        with reading_response(SYSTEM, "find_company_by_property", target):
            results = sorted(
                found.results or [], key=lambda o: int(o.id) if str(o.id).isdigit() else 0
            )
            return self._to_company(results[0]) if results else None

    def update_company(self, company_id: str, properties: dict[str, str]) -> None:
        self._call(
            "update_company",
            f"company {company_id}",
            self._companies.update,
            company_id,
            CompanyInput(properties=properties),
        )

    def deal_ids_for_company(self, company_id: str) -> list[str]:
        """The company's associated deals (for tools that need a deal to talk about)."""
        return self._company_associations("deal_ids_for_company", company_id, "deals")

    def _company_associations(self, operation: str, company_id: str, kind: str) -> list[str]:
        """The ids of the company's associated ``kind`` records (contacts, deals)."""
        target = f"company {company_id}"
        obj = self._call(
            operation,
            target,
            self._companies.get_by_id,
            company_id,
            properties=["name"],
            associations=[kind],
        )
        with reading_response(SYSTEM, operation, target):
            return _associated_ids(obj, kind)

    def _to_company(self, obj: Any, extra: Sequence[str] = ()) -> Company:
        """A company record (an SDK model) as a Company."""
        return self._company(str(obj.id), obj.properties, extra)

    def _company(
        self, company_id: str, properties: Mapping[str, Any] | None, extra: Sequence[str] = ()
    ) -> Company:
        """A Company from a record's id and properties; every name in ``extra`` is in its
        properties."""
        props: dict[str, str | None] = dict(properties or {})
        for name in extra:
            props.setdefault(name, None)
        url = self.company_url(company_id)
        if url:
            props.setdefault("crm_url", url)
        return Company(
            id=company_id,
            name=props.get("name") or props.get("domain") or f"Company {company_id}",
            domain=props.get("domain"),
            tier=props.get("cshub_tier"),
            owner_id=props.get("hubspot_owner_id"),
            timezone=props.get("cshub_timezone"),
            lifecycle_stage=props.get("lifecyclestage"),
            properties=props,
        )

    def company_url(self, company_id: str) -> str | None:
        """A link to the company record in HubSpot's web app, when ``portal_url`` is set."""
        if not self._portal_url:
            return None
        return f"{self._portal_url}/record/0-2/{company_id}"

    # -- idempotent creates ----------------------------------------------------------------

    def create_task(self, **task: Unpack[NewTask]) -> CrmRecordRef:
        company_id, key, priority = task["company_id"], task["idempotency_key"], task["priority"]
        level = priority.upper()
        target = f"company {company_id}, key {key}"
        if level not in TASK_PRIORITIES:
            raise PermanentConnectorError(
                SYSTEM, "create_task", target, f"priority {priority!r} is not LOW, MEDIUM or HIGH"
            )
        properties = {
            "hs_timestamp": _hs_timestamp(task["due_at"]),
            "hs_task_subject": task["subject"],
            "hs_task_body": as_html_text(task["body"]),
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": level,
        }
        if task["owner_id"]:
            properties["hubspot_owner_id"] = task["owner_id"]
        if attachment_ids := task.get("attachment_ids", ()):
            # The engagement's attachments: file manager ids, separated by semicolons.
            properties["hs_attachment_ids"] = ";".join(attachment_ids)
        return self._find_or_create(
            "create_task",
            target,
            tasks_pkg,
            self._tasks,
            self._tasks_search,
            properties=properties,
            company_id=company_id,
            association_type_id=self._task_assoc,
            idempotency_key=key,
        )

    def upload_file(self, *, name: str, content: bytes, folder: str) -> CrmFile:
        # The SDK uploads from a path (it opens the file itself): a private temporary one
        # with the file's name, the multipart part's file name.
        with tempfile.TemporaryDirectory(prefix="cshub-upload-") as tmp:
            path = os.path.join(tmp, os.path.basename(name))
            with open(path, "wb") as f:
                f.write(content)
            uploaded = self._call(
                "upload_file",
                f"file {folder}/{name}",
                self._files.upload,
                file=path,
                folder_path=folder,
                file_name=name,
                options=json.dumps({"access": "PRIVATE", "overwrite": True}),
            )
        with reading_response(SYSTEM, "upload_file", f"file {folder}/{name}"):
            return CrmFile(
                id=str(uploaded.id), url=uploaded.url or uploaded.default_hosting_url or ""
            )

    def create_note(
        self, *, company_id: str, body: str, timestamp: datetime, idempotency_key: str
    ) -> CrmRecordRef:
        return self._find_or_create(
            "create_note",
            f"company {company_id}, key {idempotency_key}",
            notes_pkg,
            self._notes,
            self._notes_search,
            properties={
                "hs_timestamp": _hs_timestamp(timestamp),
                "hs_note_body": as_html_text(body),
            },
            company_id=company_id,
            association_type_id=self._note_assoc,
            idempotency_key=idempotency_key,
        )

    def _find_or_create(
        self,
        operation: str,
        target: str,
        pkg: ModuleType,
        basic_api: Any,
        search_api: Any,
        *,
        properties: dict[str, str],
        company_id: str,
        association_type_id: int,
        idempotency_key: str,
    ) -> CrmRecordRef:
        """Search by idempotency key; create (key, properties, company link) if absent."""
        search = pkg.PublicObjectSearchRequest(
            filter_groups=[
                pkg.FilterGroup(
                    filters=[
                        pkg.Filter(
                            property_name=IDEMPOTENCY_PROPERTY,
                            operator="EQ",
                            value=idempotency_key,
                        )
                    ]
                )
            ],
            properties=[IDEMPOTENCY_PROPERTY],
            limit=1,
        )
        found = self._call(operation, target, search_api.do_search, search)
        with reading_response(SYSTEM, operation, target):
            if found.results:
                return CrmRecordRef(id=str(found.results[0].id), created=False)
        create = pkg.SimplePublicObjectInputForCreate(
            properties={**properties, IDEMPOTENCY_PROPERTY: idempotency_key},
            associations=[
                pkg.PublicAssociationsForObject(
                    to=pkg.PublicObjectId(id=company_id),
                    types=[
                        pkg.AssociationSpec(
                            association_category="HUBSPOT_DEFINED",
                            association_type_id=association_type_id,
                        )
                    ],
                )
            ],
        )
        created = self._call(operation, target, basic_api.create, create)
        with reading_response(SYSTEM, operation, target):
            return CrmRecordRef(id=str(created.id), created=True)

    # -- plumbing ----------------------------------------------------------------------------

    def _call(
        self, operation: str, target: str, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        """Run one SDK call with our timeout; let only ConnectorErrors out."""
        try:
            return fn(*args, _request_timeout=self._timeout, **kwargs)
        except (ConnectorError, ActivityCancelled):
            raise
        except Exception as exc:
            raise _translate(operation, target, exc) from exc

    def _read(
        self,
        operation: str,
        target: str,
        convert: Callable[[Any], R],
        fn: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> R:
        """:meth:`_call`, then ``convert`` its answer; an answer ``convert`` cannot read is
        a connector error naming the operation and target, like a failed call."""
        obj = self._call(operation, target, fn, *args, **kwargs)
        with reading_response(SYSTEM, operation, target):
            return convert(obj)

    def _call_json(
        self, operation: str, target: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """Like :meth:`_call`, but the answer's JSON as it came, not the SDK's models.

        For the health sweep's list and batch-update calls (100 companies each): the SDK's
        models parse every record's ``createdAt`` / ``updatedAt`` with ``dateutil``, most
        of the CPU a sweep page costs, for timestamps the hub never reads."""
        raw = self._call(operation, target, fn, *args, _preload_content=False, **kwargs)
        try:
            body = raw.data
        except Exception as exc:
            raise _translate(operation, target, exc) from exc
        finally:
            raw.release_conn()
        with reading_response(SYSTEM, operation, target):
            parsed = json.loads(body) if body else {}
            if not isinstance(parsed, dict):
                raise ValueError(f"expected a JSON object, got {type(parsed).__name__}")
            return parsed


def _translate(operation: str, target: str, exc: Exception) -> ConnectorError:
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status >= 100:
        # hubspot's ApiException (one class per sub-package, so duck-typed here).
        return classify_http(
            SYSTEM,
            operation,
            target,
            status,
            getattr(exc, "headers", None),
            getattr(exc, "body", None),
        )
    if isinstance(status, int):
        # status 0: the SDK's wrapper for TLS failures - no HTTP answer was received.
        return transport_error(SYSTEM, operation, target, exc)
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        return transport_error(SYSTEM, operation, target, exc)
    return unexpected_error(SYSTEM, operation, target, exc)


def _with_company_properties(extra: Sequence[str]) -> list[str]:
    """What to ask HubSpot for: the properties a Company is built from, then ``extra``."""
    return [*COMPANY_PROPERTIES, *(p for p in dict.fromkeys(extra) if p not in COMPANY_PROPERTIES)]


def _batch_target(ids: Sequence[str]) -> str:
    if len(ids) == 1:
        return f"company {ids[0]}"
    return f"{len(ids)} companies {ids[0]}…{ids[-1]}"


EMAIL_PROPERTIES = (
    "hs_email_direction",
    "hs_email_subject",
    "hs_email_text",
    "hs_email_from_email",
    "hs_email_headers",
    "hs_timestamp",
)


def _header_sender(props: Mapping[str, Any]) -> str:
    """The sender from ``hs_email_headers`` (JSON: ``{"from": {"email": …}, …}``)."""
    try:
        headers = json.loads(props.get("hs_email_headers") or "{}")
    except ValueError:
        return ""
    sender = headers.get("from") if isinstance(headers, dict) else None
    return str(sender.get("email") or "") if isinstance(sender, dict) else ""


def _parse_time(raw: Any) -> datetime | None:
    if isinstance(raw, datetime):
        return raw
    try:
        value = datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else None
    except ValueError:
        return None
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _to_contact(obj: Any, extra: Sequence[str]) -> CrmContact | None:
    """A contact record as a CrmContact; None when it has no e-mail address."""
    props = obj.properties or {}
    if not props.get("email"):
        return None
    return CrmContact(
        id=str(obj.id),
        email=props["email"],
        first_name=props.get("firstname") or None,
        last_name=props.get("lastname") or None,
        language=props.get("hs_language") or None,
        timezone=_hubspot_timezone(props.get("hs_timezone")),
        email_opt_out=str(props.get("hs_email_optout") or "").lower() == "true",
        email_opt_out_categories=sorted(parse_opt_outs(props.get(OPT_OUT_PROPERTY))),
        properties={name: props.get(name) or None for name in extra},
    )


def _to_owner(owner: Any) -> Owner:
    return Owner(
        id=str(owner.id),
        # HubSpot owners always have an e-mail; an empty one shows up as such downstream.
        email=owner.email or "",
        first_name=owner.first_name or None,
        last_name=owner.last_name or None,
    )


def _to_deal(obj: Any) -> Deal:
    props = obj.properties or {}
    companies = _associated_ids(obj, "companies")
    return Deal(
        id=str(obj.id),
        name=props.get("dealname") or None,
        stage=props.get("dealstage") or None,
        tier=props.get("cshub_tier") or None,
        company_id=companies[0] if companies else None,
    )


def _associated_ids(obj: Any, kind: str) -> list[str]:
    """Associated record ids in HubSpot's order, without the duplicates labels produce."""
    associations = getattr(obj, "associations", None) or {}
    collection = associations.get(kind)
    results: Iterable[Any] = getattr(collection, "results", None) or []
    ids: list[str] = []
    for item in results:
        item_id = str(item.id)
        if item_id not in ids:
            ids.append(item_id)
    return ids


def as_html_text(text: str) -> str:
    """HubSpot renders task and note bodies as HTML: ``&``, ``<`` and ``>`` of the hub's
    plain text (a company or CSM name, an e-mail subject) are escaped, so a name like
    ``Evil <img src=x onerror=…> Co`` shows as text in the CRM instead of becoming markup."""
    return html.escape(text, quote=False)


def _probability(value: object) -> float | None:
    try:
        return float(str(value)) if value is not None and value != "" else None
    except ValueError:
        return None


def _hs_timestamp(when: datetime) -> str:
    """HubSpot datetime properties take ISO-8601 UTC; a naive datetime is taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _hubspot_timezone(value: str | None) -> str | None:
    """HubSpot stores contact zones as ``america_slash_new_york``; return the IANA name
    (``America/New_York``). Values already in IANA form pass through."""
    if not value:
        return None
    if "_slash_" not in value:
        return value
    parts = value.split("_slash_")
    return "/".join("_".join(w.capitalize() for w in p.split("_")) for p in parts)
