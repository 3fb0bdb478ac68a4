"""A fake OpenAI Chat Completions API (and so Groq, Ollama, vLLM...): checks what the SDK sends, answers with
usage blocks, OpenAI's error bodies and its retry-after headers."""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web

from tests.fakes.vendor import FakeVendor, tokens

ERRORS = {400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
          403: ("invalid_request_error", "unsupported_country_region_territory"),
          404: ("invalid_request_error", "model_not_found"), 429: ("requests", "rate_limit_exceeded"),
          500: ("server_error", None), 502: ("server_error", None), 503: ("server_error", None)}
ROLES = {"system", "developer", "user", "assistant"}
CACHE_MIN_PROMPT = 1024  # OpenAI caches prompts from this many tokens on, in steps of 128
CACHE_STEP = 128


def error(status: int, message: str, retry_after: str | None = None, param: str | None = None) -> web.Response:
    kind, code = ERRORS.get(status, ("server_error", None))
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    return web.json_response({"error": {"message": message, "type": kind, "param": param, "code": code}},
                             status=status, headers=headers)


class FakeOpenAI(FakeVendor):
    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/chat/completions", self.completions), web.get("/v1/models", self.list_models)]

    def check_auth(self, request: web.Request) -> web.Response | None:
        sent = request.headers.get("Authorization", "")
        if sent != f"Bearer {self.api_key}":
            shown = sent.removeprefix("Bearer ")
            # OpenAI's own wording, which echoes the start and end of the rejected key
            return error(401, f"Incorrect API key provided: {shown[:3]}*****{shown[-4:]}. You can find your API "
                              "key at https://platform.openai.com/account/api-keys.")
        return None

    async def list_models(self, request: web.Request) -> web.Response:
        self.record(request, None)
        if (refused := self.check_auth(request)) is not None:
            return refused
        if self.list_errors:
            injected = self.list_errors.popleft()
            return error(injected.status, injected.message or f"injected {injected.status}", injected.retry_after)
        return web.json_response({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"} for m in self.models]})

    async def completions(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return error(400, self.violation(f"content-type {request.content_type}"))
        body = await request.json()
        self.record(request, body)
        if (refused := self.check_auth(request)) is not None:
            return refused
        if self.errors:
            injected = self.errors.popleft()
            return error(injected.status, injected.message or f"injected {injected.status}", injected.retry_after)
        problem = self.invalid(body)
        if problem:
            return error(400, self.violation(problem))
        if self.models and body["model"] not in self.models:
            return error(404, f"The model `{body['model']}` does not exist or you do not have access to it.",
                         param="model")
        messages = body["messages"]
        system = "".join(m["content"] for m in messages if m["role"] in ("system", "developer"))
        conversation = [m for m in messages if m["role"] in ("user", "assistant")]
        text = await self.answer(system, conversation)
        prompt_tokens = sum(tokens(m["content"]) for m in messages)
        cached = self.cached_tokens(system)
        cached = cached // CACHE_STEP * CACHE_STEP if prompt_tokens >= CACHE_MIN_PROMPT else 0
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        out, finish = tokens(text), "stop"
        if limit is not None and out > limit:
            text, out, finish = text[: limit * 4], limit, "length"
        return web.json_response({
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": body["model"], "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                         "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": out, "total_tokens": prompt_tokens + out,
                      "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}},
        }, headers={"x-request-id": f"req_{uuid.uuid4().hex}"})

    def invalid(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "We could not parse the JSON body of your request."
        if not isinstance(body.get("model"), str) or not body["model"]:
            return "you must provide a model parameter"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "'messages' must contain at least one message"
        for i, m in enumerate(messages):
            if m.get("role") not in ROLES:
                return f"Invalid value for 'messages[{i}].role'"
            if not isinstance(m.get("content"), str):
                return f"Invalid type for 'messages[{i}].content': expected a string"
        for key in ("max_tokens", "max_completion_tokens"):
            if key in body and (not isinstance(body[key], int) or body[key] < 1):
                return f"Invalid '{key}': integer below minimum value"
        fmt = body.get("response_format")
        if fmt is not None:
            if fmt.get("type") not in ("text", "json_object", "json_schema"):
                return "Invalid value for 'response_format.type'"
            if fmt["type"] == "json_object" and not any("json" in m["content"].lower() for m in messages):
                return ("'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                        "'json_object'.")
        return None
