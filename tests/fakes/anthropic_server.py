"""A fake Anthropic Messages API: checks what the SDK sends as the real API would, answers with usage blocks,
Anthropic's error bodies and its retry-after header."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from tests.fakes.vendor import FakeVendor, tokens

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 408: "timeout_error", 413: "request_too_large", 429: "rate_limit_error",
               500: "api_error", 502: "api_error", 503: "api_error", 529: "overloaded_error"}
BODY_KEYS = {"model", "max_tokens", "messages", "system", "metadata", "stop_sequences", "temperature", "top_p",
             "top_k", "stream", "tools", "tool_choice", "thinking", "service_tier"}


def error(status: int, message: str, retry_after: str | None = None) -> web.Response:
    retryable = status >= 500 or status == 429
    headers = {"request-id": f"req_{uuid.uuid4().hex[:20]}", "x-should-retry": str(retryable).lower()}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    body = {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message}}
    return web.json_response(body, status=status, headers=headers)


def text_of(content: Any) -> str:
    """A message's or system prompt's text: a string, or a list of text blocks."""
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))


class FakeAnthropic(FakeVendor):
    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/messages", self.messages), web.get("/v1/models", self.list_models)]

    def check_headers(self, request: web.Request) -> web.Response | None:
        # The API takes the key as x-api-key or, from SDK 2.x on, as a bearer token.
        sent = request.headers.get("x-api-key") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        if sent != self.api_key:
            return error(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return error(400, self.violation("anthropic-version: header is required"))
        return None

    async def list_models(self, request: web.Request) -> web.Response:
        self.record(request, None)
        if (refused := self.check_headers(request)) is not None:
            return refused
        if self.list_errors:
            injected = self.list_errors.popleft()
            return error(injected.status, injected.message or f"injected {injected.status}", injected.retry_after)
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                for m in self.models]
        return web.json_response({"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                                  "last_id": data[-1]["id"] if data else None})

    async def messages(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return error(400, self.violation(f"content-type {request.content_type}"))
        body = await request.json()
        self.record(request, body)
        if (refused := self.check_headers(request)) is not None:
            return refused
        if self.errors:
            injected = self.errors.popleft()
            return error(injected.status, injected.message or f"injected {injected.status}", injected.retry_after)
        problem = self.invalid(body)
        if problem:
            return error(400, self.violation(problem))
        if self.models and body["model"] not in self.models:
            return error(404, f"model: {body['model']}")
        system = text_of(body.get("system", ""))
        conversation = [{"role": m["role"], "content": text_of(m["content"])} for m in body["messages"]]
        text = await self.answer(system, conversation)
        cacheable = isinstance(body.get("system"), list) and any("cache_control" in b for b in body["system"])
        cached = self.cached_tokens(system) if cacheable else 0
        total_in = tokens(system) + sum(tokens(m["content"]) for m in conversation)
        out = tokens(text)
        stop = "end_turn"
        if out > body["max_tokens"]:
            text, out, stop = text[: body["max_tokens"] * 4], body["max_tokens"], "max_tokens"
        created = tokens(system) if cacheable and not cached else 0
        return web.json_response({
            "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "text", "text": text}], "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": total_in - cached - created, "output_tokens": out,
                      "cache_creation_input_tokens": created, "cache_read_input_tokens": cached},
        }, headers={"request-id": f"req_{uuid.uuid4().hex[:20]}"})

    def invalid(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "the body is not a JSON object"
        unknown = set(body) - BODY_KEYS
        if unknown:
            return f"{sorted(unknown)[0]}: Extra inputs are not permitted"
        if not isinstance(body.get("model"), str) or not body["model"]:
            return "model: Field required"
        if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
            return "max_tokens: Field required"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "messages: at least one message is required"
        for i, m in enumerate(messages):
            if m.get("role") != ("user" if i % 2 == 0 else "assistant"):
                return f"messages.{i}.role: roles must alternate between user and assistant, starting with user"
            if not text_of(m.get("content", "")).strip():
                return f"messages.{i}: all messages must have non-empty content"
        system = body.get("system", "")
        if not isinstance(system, (str, list)) or (isinstance(system, list) and
                                                    any(b.get("type") != "text" for b in system)):
            return "system: must be a string or a list of text blocks"
        return None
