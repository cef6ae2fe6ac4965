"""The model layer of a recorded case: every chat model a run asks for, recorded into a cassette or answered from
one.

`TapedLLM` is the run's `LLMLayer` whose chat models are `TapedChatModel`s. Recording, each one wraps the real
LiteLLM model and writes down the request as sent (messages in OpenAI's form, system prompt included; tool schemas;
the tier's models; parameters) and the response (content, tool calls, usage, cost). Replaying, it answers from the
cassette and has no model behind it at all: the layer is online exactly when the recording was, with the tiers the
recording had, and no key is needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, convert_to_openai_messages
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict

from orchestra.core.llm import LLMLayer, RunUsage, UsageRecorder
from orchestra.core.models_config import ModelRoute, ModelsConfig
from orchestra.evals.cassette import Cassette, Placeholders
from orchestra.routing.choice import TierChoice

_KEPT_METADATA = ("model_name", "model_id", "response_cost", "finish_reason")


class TapedChatModel(BaseChatModel):
    """One tier's chat model, recorded (`inner` set) or replayed (`inner` None)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    tier: str
    models: list[str]
    cassette: Any
    places: Any
    inner: BaseChatModel | None = None

    @property
    def _llm_type(self) -> str:
        return "orchestra-cassette"

    def bind_tools(
        self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self.bind(tools=[convert_to_openai_tool(tool) for tool in tools], **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        if self.inner is None:
            return self._replayed(request)
        started = time.perf_counter()
        return self._recorded(request, self.inner._generate(messages, stop=stop, **kwargs), started)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        if self.inner is None:
            return self._replayed(request)
        started = time.perf_counter()
        return self._recorded(request, await self.inner._agenerate(messages, stop=stop, **kwargs), started)

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The request as sent: messages in OpenAI's form, tool schemas, the tier's models, parameters."""
        params = {key: value for key, value in kwargs.items() if key != "tools"} | ({"stop": stop} if stop else {})
        return self.places.hide({
            "models": self.models, "messages": convert_to_openai_messages(messages),
            "tools": kwargs.get("tools") or [], "params": params,
        })  # fmt: skip

    def _replayed(self, request: dict[str, Any]) -> ChatResult:
        entry = self.cassette.answer("model", {"tier": self.tier, **request}, f"the {self.tier} model call")
        return ChatResult(generations=[ChatGeneration(message=_message(self.places.show(entry["response"])))])

    def _recorded(self, request: dict[str, Any], result: ChatResult, started: float) -> ChatResult:
        message = result.generations[0].message
        response = {
            "content": message.content,
            "tool_calls": getattr(message, "tool_calls", []),
            "usage": getattr(message, "usage_metadata", None),
            "response_metadata": {k: message.response_metadata[k] for k in _KEPT_METADATA
                                  if message.response_metadata.get(k) is not None},
        }  # fmt: skip
        self.cassette.add({"kind": "model", "tier": self.tier, "request": request,
                           "response": self.places.hide(response),
                           "duration_ms": round((time.perf_counter() - started) * 1000, 1)})  # fmt: skip
        return result


def _message(response: dict[str, Any]) -> AIMessage:
    return AIMessage(
        content=response["content"], tool_calls=response.get("tool_calls") or [],
        usage_metadata=response.get("usage"), response_metadata=response.get("response_metadata") or {},
    )  # fmt: skip


class TapedLLM(LLMLayer):
    """The run's model layer; recording when `recording`, else replaying the tiers the cassette's header names."""

    def __init__(
        self, config: ModelsConfig, environ: dict[str, str], data_dir: Path, cassette: Cassette, places: Placeholders,
        recording: bool,
    ) -> None:  # fmt: skip
        if recording:
            super().__init__(config, environ, data_dir)
            cassette.header["models"] = {tier: [r.model for r in routes] for tier, routes in self.routes.items()}
        else:
            tiers = cassette.header.get("models", {})
            routes = {tier: [ModelRoute(model=name) for name in names] for tier, names in tiers.items()}
            super().__init__(ModelsConfig(log_calls=False), {}, data_dir)
            self.routes = routes
            self.preload_router()
        self._cassette, self._places, self._recording = cassette, places, recording

    def check_budget(self, tier: str, tenant: str) -> None:
        if self._recording:
            super().check_budget(tier, tenant)

    def record_call(
        self, tier: str, model: str, tokens: tuple[int, int], cost: float, saved: float, usage: RunUsage,
        choice: TierChoice | None,
    ) -> None:  # fmt: skip
        if self._recording:  # a replayed call spent nothing: no budget is charged, no call logged
            super().record_call(tier, model, tokens, cost, saved, usage, choice)

    def chat_model(self, tier: str, usage: RunUsage, choice: TierChoice | None = None) -> BaseChatModel:
        tier = self.resolve(tier)
        inner = super().chat_model(tier, usage) if self._recording else None
        return self._taped(tier, tier, usage, inner, [route.model for route in self.routes[tier]], choice)

    def panel(self, usage: RunUsage) -> list[tuple[str, BaseChatModel]]:
        members: list[tuple[str, BaseChatModel | None]] = (
            list(super().panel(usage)) if self._recording else [(r.model, None) for r in self.routes.get("panel", [])]
        )
        return [(name, self._taped(f"panel/{index}", "panel", usage, inner, [name], None))
                for index, (name, inner) in enumerate(members)]  # fmt: skip

    def _taped(
        self, key: str, tier: str, usage: RunUsage, inner: BaseChatModel | None, models: list[str],
        choice: TierChoice | None,
    ) -> TapedChatModel:  # fmt: skip
        if inner is not None:
            inner = inner.model_copy(update={"callbacks": None})  # usage is counted once, by the taped model
        return TapedChatModel(tier=key, models=models, cassette=self._cassette, places=self._places, inner=inner,
                              callbacks=[UsageRecorder(self, tier, usage, choice)])  # fmt: skip
