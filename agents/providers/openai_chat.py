"""OpenAI's Chat Completions API through the `openai` SDK: OpenAI itself and compatible servers (Groq, Ollama,
vLLM, LM Studio)."""

from __future__ import annotations

from typing import Any

import openai

from agents.providers.chat import ChatReply, ChatRequest


class OpenAIChat:
    def __init__(self, client: openai.AsyncOpenAI, vendor: str = "openai") -> None:
        self._client = client
        self.vendor = vendor

    async def complete(self, request: ChatRequest) -> ChatReply:
        messages: list[Any] = [{"role": "system", "content": request.system}]
        messages += [{"role": m.role, "content": m.text} for m in request.messages]
        extra: dict[str, Any] = {}
        if request.json_output:
            extra["response_format"] = {"type": "json_object"}
        # OpenAI's newer models take only max_completion_tokens; compatible servers mostly know only max_tokens.
        if self.vendor == "openai":
            extra["max_completion_tokens"] = request.max_tokens
        else:
            extra["max_tokens"] = request.max_tokens
        completion = await self._client.chat.completions.create(model=request.model, messages=messages, **extra)
        choice = completion.choices[0]
        usage = completion.usage
        details = usage.prompt_tokens_details if usage else None
        return ChatReply(
            text=choice.message.content or "",
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            cached_tokens=(details.cached_tokens or 0) if details else 0,
            truncated=choice.finish_reason == "length",
        )

    async def close(self) -> None:
        await self._client.close()
