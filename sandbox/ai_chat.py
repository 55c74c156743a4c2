"""An OpenAI-compatible chat-completions endpoint (``POST /v1/chat/completions``), tiny
and deterministic, for the hub's optional AI classifier (``CSHUB_AI_BASE_URL``,
``runtime.text_classifier.ChatClassifier``) to be tested over real HTTP.

It reads the numbered messages of the last user message ("1. text" per line) and
answers ``{"results": [{"label", "score"}, ...]}`` as the JSON content of one choice,
by a rule of its own (not the hub's): a text naming one of ``NEGATIVE`` is negative
(score -0.9), one of ``POSITIVE`` positive (0.9), else neutral (0.0); the answer says
``model`` back. Requests are kept for tests: ``GET /_sandbox/ai/requests``. A request
without ``model`` or messages is answered 400 in OpenAI's error shape; ``model:
"broken"`` gets a 200 whose content is not JSON (what a misconfigured server does).
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

NEGATIVE = ("terrible", "awful", "useless", "pésimo", "fatal", "horrible")
POSITIVE = ("great", "love", "excellent", "genial", "encanta", "gracias")
REQUESTS = web.AppKey("ai_chat_requests", list)
_NUMBERED = re.compile(r"^\s*(\d+)\.\s?(.*)$")


def _error(message: str, status: int = 400) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": "invalid_request_error"}}, status=status
    )


def _judge(text: str) -> dict[str, Any]:
    lower = text.lower()
    if any(w in lower for w in NEGATIVE):
        return {"label": "negative", "score": -0.9}
    if any(w in lower for w in POSITIVE):
        return {"label": "positive", "score": 0.9}
    return {"label": "neutral", "score": 0.0}


async def chat_completions(request: web.Request) -> web.StreamResponse:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error("the body is not JSON")
    if not isinstance(body, dict) or not body.get("model") or not body.get("messages"):
        return _error("model and messages are required")
    request.app[REQUESTS].append(body)
    users = [m for m in body["messages"] if isinstance(m, dict) and m.get("role") == "user"]
    lines = str(users[-1].get("content", "")).splitlines() if users else []
    texts = [m.group(2) for m in map(_NUMBERED.match, lines) if m]
    content = (
        "Sure! Here you go."
        if body["model"] == "broken"
        else json.dumps({"results": [_judge(t) for t in texts]})
    )
    return web.json_response(
        {
            "id": f"chatcmpl-sandbox-{len(request.app[REQUESTS])}",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
        }
    )


async def list_requests(request: web.Request) -> web.StreamResponse:
    return web.json_response({"requests": request.app[REQUESTS]})


def setup(app: web.Application) -> None:
    app[REQUESTS] = []
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/_sandbox/ai/requests", list_requests)
