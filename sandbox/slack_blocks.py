"""Block Kit checks Slack applies before accepting a message (``invalid_blocks``).

Only the limits a template can realistically break are checked: block count and types,
text objects, and the length limits of section, header and context blocks. Messages
are in Slack's style: ``<problem> [json-pointer:/blocks/0/text/text]``.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50
KNOWN_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)


def _text_errors(obj: Any, where: str, *, limit: int, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict):
        return [f"must provide an object [json-pointer:{where}]"]
    kinds = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if obj.get("type") not in kinds:
        return [f"must be one of {', '.join(kinds)} [json-pointer:{where}/type]"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"must be more than 0 characters [json-pointer:{where}/text]"]
    if len(text) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{where}/text]"]
    return []


def _block_errors(block: Any, where: str) -> list[str]:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return [f"missing required field: type [json-pointer:{where}]"]
    kind = block["type"]
    if kind not in KNOWN_TYPES:
        return [f"unsupported type: {kind} [json-pointer:{where}/type]"]
    if len(str(block.get("block_id", ""))) > 255:
        return [f"must be less than 256 characters [json-pointer:{where}/block_id]"]
    errors: list[str] = []
    if kind == "section":
        if "text" not in block and "fields" not in block and "accessory" not in block:
            errors.append(f"must provide text or fields [json-pointer:{where}]")
        if "text" in block:
            errors += _text_errors(block["text"], f"{where}/text", limit=3000)
        fields = block.get("fields", [])
        if not isinstance(fields, list) or len(fields) > 10:
            errors.append(f"must provide no more than 10 items [json-pointer:{where}/fields]")
        else:
            for i, field in enumerate(fields):
                errors += _text_errors(field, f"{where}/fields/{i}", limit=2000)
    elif kind == "header":
        errors += _text_errors(block.get("text"), f"{where}/text", limit=150, plain_only=True)
    elif kind in ("context", "actions"):
        elements = block.get("elements")
        most = 10 if kind == "context" else 25
        if not isinstance(elements, list) or not 1 <= len(elements) <= most:
            errors.append(
                f"must provide between 1 and {most} items [json-pointer:{where}/elements]"
            )
    elif kind == "input":
        errors += _text_errors(block.get("label"), f"{where}/label", limit=2000, plain_only=True)
        element = block.get("element")
        if not isinstance(element, dict) or not element.get("type"):
            errors.append(f"missing required field: element [json-pointer:{where}]")
    elif kind == "image" and not (block.get("image_url") or block.get("slack_file")):
        errors.append(f"missing required field: image_url [json-pointer:{where}]")
    return errors


def block_errors(blocks: Any) -> list[str]:
    """Everything Slack would reject in ``blocks`` (empty list: acceptable)."""
    if not isinstance(blocks, list):
        return ["must provide an array [json-pointer:/blocks]"]
    if len(blocks) > MAX_BLOCKS:
        return [f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]"]
    errors: list[str] = []
    for i, block in enumerate(blocks):
        errors += _block_errors(block, f"/blocks/{i}")
    return errors


MAX_VIEW_BLOCKS = 100


def view_errors(view: Any) -> list[str]:
    """What ``views.open`` would reject in a modal (empty list: acceptable)."""
    if not isinstance(view, dict):
        return ["must provide an object [json-pointer:/view]"]
    if view.get("type") != "modal":
        return ["must be modal [json-pointer:/view/type]"]
    errors = _text_errors(view.get("title"), "/view/title", limit=24, plain_only=True)
    for name in ("submit", "close"):
        if name in view:
            errors += _text_errors(view[name], f"/view/{name}", limit=24, plain_only=True)
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or len(blocks) > MAX_VIEW_BLOCKS:
        return [
            *errors,
            f"must provide at most {MAX_VIEW_BLOCKS} items [json-pointer:/view/blocks]",
        ]
    for i, block in enumerate(blocks):
        errors += _block_errors(block, f"/view/blocks/{i}")
    if any(isinstance(b, dict) and b.get("type") == "input" for b in blocks) and not view.get(
        "submit"
    ):
        errors.append("submit is required when the view has input blocks [json-pointer:/view]")
    if len(str(view.get("private_metadata", ""))) > 3000:
        errors.append("must be less than 3001 characters [json-pointer:/view/private_metadata]")
    if len(str(view.get("callback_id", ""))) > 255:
        errors.append("must be less than 256 characters [json-pointer:/view/callback_id]")
    return errors
