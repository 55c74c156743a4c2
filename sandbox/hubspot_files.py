"""HubSpot's file manager, as much as the hub uses: ``POST /files/v3/files`` (multipart:
``file``, ``folderPath``, ``fileName``, ``options`` JSON), a file of the same name in the
same folder replaced when ``options.overwrite`` is true (its id kept), ``GET
/files/v3/files/{fileId}`` (what a task's ``hs_attachment_ids`` name), and each file
served back at its ``url`` (so a review pack's chart opens from the task)."""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass, field

from aiohttp import web

from sandbox.appkeys import INFO
from sandbox.clock import iso_ms, utcnow


@dataclass
class StoredFile:
    id: str
    name: str
    path: str
    content: bytes
    access: str
    created_at: str
    updated_at: str


@dataclass
class FileStore:
    by_path: dict[str, StoredFile] = field(default_factory=dict)
    next_id: int = 900001

    def by_id(self, file_id: str) -> StoredFile | None:
        return next((f for f in self.by_path.values() if f.id == file_id), None)


FILES = web.AppKey("sandbox_hubspot_files", FileStore)


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"status": "error", "message": message, "category": "VALIDATION_ERROR"}, status=status
    )


def _json(request: web.Request, f: StoredFile) -> dict[str, object]:
    base = request.app[INFO].http_url or f"{request.scheme}://{request.host}"
    ext = f.name.rsplit(".", 1)[-1] if "." in f.name else ""
    return {
        "id": f.id,
        "name": f.name.rsplit(".", 1)[0],
        "extension": ext,
        "path": f.path,
        "size": len(f.content),
        "type": "IMG" if ext in ("png", "jpg", "jpeg", "gif") else "OTHER",
        "access": f.access,
        "url": f"{base}/_sandbox/files/{f.id}/{f.name}",
        "archived": False,
        "createdAt": f.created_at,
        "updatedAt": f.updated_at,
    }


async def upload(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        return _error(400, "file is required (multipart form field 'file')")
    folder = str(form.get("folderPath") or "").rstrip("/")
    if not folder.startswith("/"):
        return _error(400, "folderPath is required and starts with /")
    name = str(form.get("fileName") or upload.filename or "")
    if not name:
        return _error(400, "fileName is required")
    try:
        options = json.loads(str(form.get("options") or "{}"))
    except ValueError:
        return _error(400, "options is not JSON")
    access = options.get("access")
    if access not in ("PUBLIC_INDEXABLE", "PUBLIC_NOT_INDEXABLE", "PRIVATE"):
        return _error(
            400, "options.access is required: PUBLIC_INDEXABLE, PUBLIC_NOT_INDEXABLE or PRIVATE"
        )
    store = request.app[FILES]
    path = f"{folder}/{name}"
    now = iso_ms(utcnow())
    content = upload.file.read()
    existing = store.by_path.get(path)
    if existing is not None and not options.get("overwrite"):
        return _error(409, f"a file named {name} already exists in {folder}")
    if existing is not None:
        existing.content, existing.updated_at, existing.access = content, now, access
        return web.json_response(_json(request, existing), status=201)
    stored = StoredFile(str(store.next_id), name, path, content, access, now, now)
    store.next_id += 1
    store.by_path[path] = stored
    return web.json_response(_json(request, stored), status=201)


async def get_file(request: web.Request) -> web.StreamResponse:
    f = request.app[FILES].by_id(request.match_info["id"])
    if f is None:
        return web.json_response(
            {"status": "error", "message": "File not found", "category": "OBJECT_NOT_FOUND"},
            status=404,
        )
    return web.json_response(_json(request, f))


async def download(request: web.Request) -> web.StreamResponse:
    """The file at its ``url``, or by id alone (``/_sandbox/files/{id}``: the inbox shows a
    task's attachments from their ids)."""
    f = request.app[FILES].by_id(request.match_info["id"])
    if f is None or f.name != request.match_info.get("name", f.name):
        raise web.HTTPNotFound()
    kind = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
    return web.Response(body=f.content, content_type=kind)


def setup(app: web.Application) -> None:
    app[FILES] = FileStore()
    app.router.add_post("/files/v3/files", upload)
    app.router.add_get("/files/v3/files/{id}", get_file)
    app.router.add_get("/_sandbox/files/{id}/{name}", download)
    app.router.add_get("/_sandbox/files/{id}", download)
