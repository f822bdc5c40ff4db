"""The LLM reasoner: any OpenAI-compatible chat-completions endpoint, tools bound from the registry.

One call per step. Streaming is used when a token callback is given (chat), so the answer appears as
it is written. Retries with exponential back-off on 429 and 5xx are the ``openai`` client's own
(``max_retries`` from settings). Usage tokens come from the responses (``stream_options.include_usage``
when streaming). An endpoint that fails after its retries ends the run with a clear message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import openai

from agent.reasoners.base import ReasonContext, Step, ToolCall
from agent.settings import Settings
from agent.state import AgentState


class LLMReasoner:
    """Asks the model for the next step, with every registered tool bound."""

    name = "llm"

    def __init__(self, settings: Settings, client: openai.OpenAI | None = None) -> None:
        self.settings = settings
        self.model = settings.llm_model
        self.client = client or openai.OpenAI(
            base_url=settings.effective_llm_base_url,
            api_key=settings.effective_llm_api_key or "not-needed",
            timeout=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
        )

    def next_step(self, state: AgentState, ctx: ReasonContext) -> Step:
        messages = state.get("messages", [])
        tools = [t.openai_schema() for t in ctx.tools.all()]
        try:
            if ctx.on_token is not None:
                content, calls, tokens = self._stream(messages, tools, ctx.on_token)
            else:
                content, calls, tokens = self._complete(messages, tools)
        except openai.APIStatusError as exc:
            return _abort(f"the LLM endpoint answered HTTP {exc.status_code} after retries: {_brief(exc)}")
        except openai.APIConnectionError as exc:
            return _abort(
                f"cannot reach the LLM endpoint {self.settings.effective_llm_base_url}: {_brief(exc)}"
            )
        except openai.OpenAIError as exc:
            return _abort(f"the LLM call failed: {_brief(exc)}")
        return _step_from(content, calls, tokens)

    # --- transport ---------------------------------------------------------------------------
    def _request(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
        req: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.settings.llm_temperature,
        }
        if tools:
            req["tools"] = tools
        return req

    def _complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> tuple[str, list[dict[str, Any]], int]:
        resp = self.client.chat.completions.create(**self._request(messages, tools))
        tokens = resp.usage.total_tokens if resp.usage else 0
        if not resp.choices:
            return "", [], tokens
        msg = resp.choices[0].message
        calls = [
            {"id": c.id, "name": c.function.name, "arguments": c.function.arguments or ""}
            for c in (msg.tool_calls or [])
            if c.type == "function"
        ]
        return msg.content or "", calls, tokens

    def _stream(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], on_token: Callable[[str], None]
    ) -> tuple[str, list[dict[str, Any]], int]:
        stream = self.client.chat.completions.create(
            **self._request(messages, tools), stream=True, stream_options={"include_usage": True}
        )
        return _collect_stream(stream, on_token)


def _collect_stream(
    stream: Iterable[Any], on_token: Callable[[str], None]
) -> tuple[str, list[dict[str, Any]], int]:
    """Join streamed deltas into the content and the tool calls (arguments arrive in pieces)."""
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    tokens = 0
    for chunk in stream:
        if chunk.usage is not None:
            tokens = chunk.usage.total_tokens
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                content.append(delta.content)
                on_token(delta.content)
            for tc in delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] = tc.id or slot["id"]
                if tc.function is not None:
                    slot["name"] += tc.function.name or ""
                    slot["arguments"] += tc.function.arguments or ""
    return "".join(content), [calls[i] for i in sorted(calls)], tokens


def _step_from(content: str, raw_calls: list[dict[str, Any]], tokens: int) -> Step:
    """Turn the model's message into a step; arguments that are not a JSON object are flagged, not run."""
    message: dict[str, Any] = {"role": "assistant", "content": content or None}
    if not raw_calls:
        return Step(
            kind="finish", answer=content, root_cause=root_cause_of(content), message=message, tokens=tokens
        )
    message["tool_calls"] = [
        {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
        for c in raw_calls
    ]
    calls = [_parse_call(c) for c in raw_calls]
    return Step(kind="call_tools", calls=calls, message=message, tokens=tokens)


def _parse_call(raw: dict[str, Any]) -> ToolCall:
    text = raw["arguments"].strip() or "{}"
    try:
        args = json.loads(text)
    except json.JSONDecodeError as exc:
        return ToolCall(
            raw["id"], raw["name"], None, f"arguments are not valid JSON ({exc.msg}): {text[:200]!r}"
        )
    if not isinstance(args, dict):
        return ToolCall(raw["id"], raw["name"], None, f"arguments must be a JSON object, got {text[:200]!r}")
    return ToolCall(raw["id"], raw["name"], args)


def root_cause_of(answer: str) -> str | None:
    """The ``Root cause: ...`` line of a final answer, if the model wrote one."""
    for line in answer.splitlines():
        stripped = line.strip().lstrip("#*- ").strip()
        if stripped.lower().startswith("root cause"):
            _, _, rest = stripped.partition(":")
            rest = rest.strip().strip("*").strip()
            if rest:
                return rest
    return None


def _abort(reason: str) -> Step:
    return Step(
        kind="abort",
        stop_reason=reason + ". Check DEVOPS_AGENT_LLM_BASE_URL / _MODEL, or run `devops-agent doctor`.",
    )


def _brief(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]
