"""Request bodies, as the LangGraph API and its SDKs send them. Unknown fields are ignored (newer SDKs add some);
known ones are checked, and a bad one is answered 422 naming the field."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orchestra.server.records import MultitaskStrategy, ThreadStatus
from orchestra.server.streaming import StreamMode

JsonObject = dict[str, Any]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CheckpointRef(_Body):
    """A checkpoint named as the LangGraph API names one (`checkpoint_id`, `checkpoint_ns`); its thread is always the
    one in the path."""

    checkpoint_id: str | None = None
    checkpoint_ns: str | None = None

    def as_configurable(self) -> JsonObject:
        return {key: value for key, value in self.model_dump().items() if value is not None}


class RunConfig(BaseModel):
    """A run's `config`: the keys LangGraph reads are checked; other keys pass through."""

    model_config = ConfigDict(extra="allow")

    configurable: JsonObject | None = None
    metadata: JsonObject | None = None
    tags: list[str] | None = None
    recursion_limit: int | None = Field(None, ge=1)
    max_concurrency: int | None = Field(None, ge=1)

    def as_dict(self) -> JsonObject:
        return {key: value for key, value in self.model_dump().items() if value is not None}


class ThreadCreate(_Body):
    thread_id: str | None = Field(None, description="Choose the thread's id (a UUID); a new one by default.")
    metadata: JsonObject | None = None
    if_exists: Literal["raise", "do_nothing"] = Field("raise", description="What to do if the id is taken.")
    graph_id: str | None = Field(None, description="Recorded in the thread's metadata, as LangGraph does.")
    supersteps: list[Any] | None = Field(None, description="Not supported: must be absent or empty.")
    ttl: Any = Field(None, description="Not supported: must be absent.")

    @model_validator(mode="after")
    def _unsupported(self) -> ThreadCreate:
        if self.supersteps:
            raise ValueError("supersteps: not supported by orchestra serve; create the thread, then run it")
        if self.ttl is not None:
            raise ValueError("ttl: not supported by orchestra serve; delete threads with DELETE /threads/{id}")
        return self


class ThreadPatch(_Body):
    metadata: JsonObject | None = Field(None, description="Merged into the thread's metadata.")


class ThreadSearch(_Body):
    metadata: JsonObject | None = Field(None, description="Threads whose metadata contains this.")
    values: JsonObject | None = Field(None, description="Threads whose values contain this.")
    ids: list[str] | None = None
    status: ThreadStatus | None = None
    limit: int = Field(10, ge=0, le=1000)
    offset: int = Field(0, ge=0)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] | None = None
    sort_order: Literal["asc", "desc", "ASC", "DESC"] | None = None
    select: list[str] | None = None


class ThreadCount(_Body):
    metadata: JsonObject | None = None
    values: JsonObject | None = None
    status: ThreadStatus | None = None


class HistoryRequest(_Body):
    limit: int = Field(10, ge=1, le=1000)
    before: CheckpointRef | str | None = None
    metadata: JsonObject | None = None
    checkpoint: CheckpointRef | None = None


def written_by_graphs_only(value: Any) -> Any:
    """Refuse messages that carry `response_metadata.orchestra`: what an answer shows and may serve (its
    screenshot, `GET /threads/{id}/screenshots/{name}`) is written by Orchestra's graphs, never by a client."""
    if isinstance(value, dict):
        metadata = value.get("response_metadata")
        if isinstance(metadata, dict) and "orchestra" in metadata:
            raise ValueError("response_metadata.orchestra is written by Orchestra's graphs only")
        for item in value.values():
            written_by_graphs_only(item)
    elif isinstance(value, list):
        for item in value:
            written_by_graphs_only(item)
    return value


class StateUpdate(_Body):
    values: JsonObject | list[Any] | None = None
    as_node: str | None = None
    checkpoint: CheckpointRef | None = None
    checkpoint_id: str | None = None

    _graph_metadata = field_validator("values")(written_by_graphs_only)


class StateAtCheckpoint(_Body):
    checkpoint: CheckpointRef
    subgraphs: bool = False


class AssistantSearch(_Body):
    graph_id: str | None = None
    name: str | None = None
    metadata: JsonObject | None = None
    limit: int = Field(10, ge=0, le=1000)
    offset: int = Field(0, ge=0)


class CommandBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    update: Any = None
    resume: Any = None
    goto: Any = None

    _graph_metadata = field_validator("update")(written_by_graphs_only)


class Feedback(_Body):
    """`POST /threads/{id}/runs/{run_id}/feedback`: a person's verdict on a run's answer, which `orchestra models
    calibrate` learns the router's threshold from."""

    model_config = ConfigDict(extra="forbid")
    thumbs: Literal["up", "down"] = Field(description="up: the answer was good; down: it was not.")
    comment: str = Field("", max_length=2000, description="Why, in the person's words (kept with the verdict).")


class RunCreate(_Body):
    """`POST /threads/{id}/runs[/wait|/stream]` and `POST /runs[/wait|/stream]`."""

    assistant_id: str = Field(description="An assistant id, or a graph id of langgraph.json.")
    input: JsonObject | list[Any] | None = None
    command: CommandBody | None = None
    config: RunConfig | None = None
    context: JsonObject | None = None
    metadata: JsonObject | None = None
    stream_mode: StreamMode | list[StreamMode] = "values"
    stream_subgraphs: bool = False
    stream_resumable: bool = Field(False, description="Accepted; every stream can be rejoined here.")
    multitask_strategy: MultitaskStrategy = "enqueue"
    on_disconnect: Literal["cancel", "continue"] = "continue"
    if_not_exists: Literal["create", "reject"] = "reject"
    on_completion: Literal["delete", "keep"] = "delete"
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    checkpoint: CheckpointRef | None = None
    checkpoint_id: str | None = None
    durability: Literal["sync", "async", "exit"] | None = Field(
        None, description="Accepted; runs here always use `sync`, so a crash never loses a finished step."
    )
    webhook: str | None = None
    after_seconds: float | None = None
    feedback_keys: list[str] | None = None

    _graph_metadata = field_validator("input")(written_by_graphs_only)

    @field_validator("stream_mode", mode="before")
    @classmethod
    def _no_events(cls, value: Any) -> Any:
        modes = value if isinstance(value, list) else [value]
        if "events" in modes:
            raise ValueError("stream mode 'events' is not supported by orchestra serve; use 'messages-tuple', "
                             "'updates' or 'custom'")  # fmt: skip
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RunCreate:
        if self.input is not None and self.command is not None:
            raise ValueError("input and command: send one of them (a resume goes in command, without input)")
        if self.webhook:
            raise ValueError("webhook: not supported by orchestra serve; join the run or stream it instead")
        if self.after_seconds:
            raise ValueError("after_seconds: not supported by orchestra serve; create the run when it should start")
        if self.feedback_keys:
            raise ValueError("feedback_keys: not supported by orchestra serve (it needs LangSmith)")
        return self

    @property
    def config_dict(self) -> JsonObject:
        return self.config.as_dict() if self.config is not None else {}

    @property
    def modes(self) -> list[str]:
        return list(self.stream_mode) if isinstance(self.stream_mode, list) else [self.stream_mode]
