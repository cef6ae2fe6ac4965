"""An evaluation suite in YAML: cases (a task, or a conversation of several turns), the answers to give when a run
asks for approval, and what each turn is expected to do. docs/evals.md shows one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExpectedCall(_Strict):
    tool: str = Field(description="`pool.tool`: a call through the gateway, a workflow's or a specialist agent's.")
    arguments: dict[str, Any] = Field(default_factory=dict)
    match: Literal["exact", "ignore", "subset"] | None = Field(None, description="Overrides the trajectory's.")


class Trajectory(_Strict):
    mode: Literal["strict", "unordered", "subset", "superset"] = "superset"
    arguments: Literal["exact", "ignore", "subset"] = "subset"
    calls: list[ExpectedCall]


class Fact(_Strict):
    """A string (`text`), a regular expression (`regex`), or a number within a tolerance (`number`)."""

    text: str | None = None
    regex: str | None = None
    number: float | None = None
    tolerance: float = 0.0

    @model_validator(mode="after")
    def _one_kind(self) -> Fact:
        if sum(value is not None for value in (self.text, self.regex, self.number)) != 1:
            raise ValueError("a fact is one of text, regex or number")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex {self.regex!r}: {exc}") from None
        return self


def _facts(value: Any) -> Any:
    return [{"text": item} if isinstance(item, str) else item for item in value or []]


class Limits(_Strict):
    model_calls: int | None = None
    cost_usd: float | None = None
    seconds: float | None = None


class Expect(_Strict):
    route: dict[str, str | None] = Field(default_factory=dict, description="domain, complexity, workflow")
    trajectory: Trajectory | None = None
    contains: list[Fact] = Field(default_factory=list)
    not_contains: list[Fact] = Field(default_factory=list)
    approvals: list[str] | None = Field(
        None, description="The calls asked about, in order (`pool.tool`; `choice` for a choice)."
    )
    flags: list[str] | None = Field(None, description="Cross-check flags, each found in one flag (empty: none).")
    limits: Limits = Field(default_factory=Limits)
    scorers: list[str] = Field(default_factory=list, description="`module:function` custom scorers.")

    @model_validator(mode="before")
    @classmethod
    def _fact_strings(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {**data, "contains": _facts(data.get("contains")), "not_contains": _facts(data.get("not_contains"))}
        return data


Answer = str | dict[str, Any]  # approve | reject | {reject: why} | {edit: {...}} | {choose: option}


def _answer(answer: Any) -> Any:
    if answer in ("approve", "reject"):
        return answer
    if isinstance(answer, dict) and len(answer) == 1:
        kind, value = next(iter(answer.items()))
        if kind in ("reject", "choose") or (kind == "edit" and isinstance(value, dict)):
            return answer
    raise ValueError(f"{str(answer)[:80]!r} is not an answer: approve, reject, {{reject: why}}, "
                     "{edit: {arguments}} or {choose: option}")  # fmt: skip


class Turn(_Strict):
    say: str
    approvals: list[Answer] = Field(default_factory=list)
    expect: Expect = Field(default_factory=Expect)

    @field_validator("approvals")
    @classmethod
    def _answers(cls, answers: list[Answer]) -> list[Answer]:
        return [_answer(answer) for answer in answers]


class Case(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,79}$")
    about: str = ""
    known_failure: str | None = Field(
        None, description="Why this case fails today: it is reported, not counted, until it passes."
    )
    turns: list[Turn] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _one_turn(cls, data: Any) -> Any:
        """`say` (with `approvals` and `expect`) at the case's level is its one turn."""
        if isinstance(data, dict) and "say" in data:
            if "turns" in data:
                raise ValueError("a case has either `say` (one turn) or `turns`, not both")
            data = dict(data)
            turn = {key: data.pop(key) for key in ("say", "approvals", "expect") if key in data}
            data["turns"] = [turn]
        return data


class Suite(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,79}$")
    about: str = ""
    model: Literal["none", "scripted"] = Field(
        "none", description="none: offline; scripted: recorded against a scripted model (`script`), unless live."
    )
    script: str | None = Field(None, description="`module:function` answering the scripted model's requests.")
    cases: list[Case] = Field(min_length=1)
    path: Path = Field(Path("."), exclude=True)

    @model_validator(mode="after")
    def _unique_ids(self) -> Suite:
        ids = [case.id for case in self.cases]
        if len(ids) != len(set(ids)):
            raise ValueError(f"case ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
        if self.model == "scripted" and not self.script:
            raise ValueError("a suite with model: scripted names its `script` (module:function)")
        return self

    def cassette_path(self, case: Case) -> Path:
        """Where a case's cassette lives: beside the suite, `cassettes/<suite>/<case>.jsonl`."""
        return self.path.parent / "cassettes" / self.name / f"{case.id}.jsonl"


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file and the field."""


def load_suite(path: Path) -> Suite:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"{path}: no such suite file") from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a suite is a mapping with name and cases")
    try:
        return Suite.model_validate({**data, "path": path})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
        raise SuiteError(f"{path}: {problems}") from None
