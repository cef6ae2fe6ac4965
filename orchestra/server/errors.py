"""Errors the API answers with, in the LangGraph API's shape: `{"detail": "..."}` and its status code."""

from __future__ import annotations


class ApiError(Exception):
    """An answer other than success; `detail` says what happened and what to do."""

    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(ApiError):
    status_code = 400


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class Unprocessable(ApiError):
    status_code = 422


def thread_not_found(thread_id: str) -> NotFound:
    # The same words whether the thread never existed or belongs to another tenant.
    return NotFound(f"Thread with ID {thread_id} not found")


def run_not_found(run_id: str) -> NotFound:
    return NotFound(f"Run with ID {run_id} not found")
