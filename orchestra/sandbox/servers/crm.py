"""The sandbox CRM as an MCP server, with the official HubSpot MCP server's tool names and argument shapes.

Run: `python -m orchestra.sandbox.servers.crm [--data-dir DIR]`. Writes persist in `<data>/sandbox/crm.sqlite`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from orchestra.sandbox.crm_store import OBJECT_TYPES, CrmError, CrmStore
from orchestra.sandbox.paths import SandboxPaths
from orchestra.sandbox.servers._common import sandbox_paths

ObjectType = Literal["companies", "contacts", "deals", "notes", "calls", "emails", "meetings", "owners"]
READ = ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False)
CREATE = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
UPDATE = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)
T = TypeVar("T")

Properties = Annotated[list[str] | None, Field(description="Properties to return; all when omitted")]
Limit = Annotated[int, Field(ge=1, le=200, description="Results per page (1-200)")]
After = Annotated[str | None, Field(description="Paging cursor from a previous response's paging.next.after")]


def _tool_errors(function: Callable[..., T]) -> Callable[..., T]:
    """CRM refusals become tool errors with the store's message (what was wrong and what to do)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return function(*args, **kwargs)
        except CrmError as exc:
            raise ToolError(str(exc)) from None

    return wrapper


def build_server(paths: SandboxPaths) -> FastMCP:
    server = FastMCP(
        "sandbox-crm",
        instructions="A HubSpot-shaped CRM of the Orchestra sandbox: companies, contacts, deals and engagements "
        "(notes, calls, emails, meetings). Search first, then read, create or update by id. Its data is as of the "
        "asOf date hubspot-get-user-details returns: judge close dates against that date, not your clock.",
    )
    store = CrmStore(paths.crm)

    @server.tool(name="hubspot-get-user-details", annotations=READ)
    @_tool_errors
    def get_user_details() -> dict[str, Any]:
        """Who this connection is and the account's context, including asOf: the date the CRM's data is current
        to. Treat asOf as today: an open deal whose closedate is before it has slipped (overdue)."""
        return {"hubId": "sandbox", "userId": "sandbox-agent", "timeZone": "UTC", "asOf": store.as_of()}

    @server.tool(name="hubspot-search-objects", annotations=READ)
    @_tool_errors
    def search_objects(
        objectType: ObjectType,
        query: Annotated[str | None, Field(description="Text matched against names, domains, emails")] = None,
        filterGroups: Annotated[
            list[dict[str, Any]] | None,
            Field(
                description="OR-ed groups of AND-ed filters: [{filters: [{propertyName, operator, value}]}]; "
                "operators EQ, NEQ, LT, LTE, GT, GTE, CONTAINS_TOKEN, IN (with values), HAS_PROPERTY, "
                "NOT_HAS_PROPERTY"
            ),
        ] = None,
        properties: Properties = None,
        sorts: Annotated[
            list[dict[str, str]] | None, Field(description="[{propertyName, direction: ASCENDING|DESCENDING}]")
        ] = None,
        limit: Limit = 10,
        after: After = None,
    ) -> dict[str, Any]:
        """Search CRM objects of one type by text and property filters."""
        return store.search(
            objectType, query=query, filter_groups=filterGroups, properties=properties, sorts=sorts, limit=limit,
            after=after,
        )  # fmt: skip

    @server.tool(name="hubspot-list-objects", annotations=READ)
    @_tool_errors
    def list_objects(
        objectType: ObjectType, limit: Limit = 10, after: After = None, properties: Properties = None
    ) -> dict[str, Any]:
        """List CRM objects of one type, oldest first, a page at a time."""
        return store.search(objectType, properties=properties, limit=limit, after=after)

    @server.tool(name="hubspot-batch-read-objects", annotations=READ)
    @_tool_errors
    def batch_read(
        objectType: ObjectType,
        inputs: Annotated[list[dict[str, str]], Field(description="[{id: '1001'}, ...]", min_length=1, max_length=100)],
        properties: Properties = None,
    ) -> dict[str, Any]:
        """Read CRM objects by id."""
        return {"results": store.read(objectType, [str(i.get("id", "")) for i in inputs], properties)}

    @server.tool(name="hubspot-batch-create-objects", annotations=CREATE)
    @_tool_errors
    def batch_create(
        objectType: ObjectType,
        inputs: Annotated[
            list[dict[str, Any]],
            Field(
                description="[{properties: {...}, associations: [{toObjectId: '1001'}]}]; all inputs are checked "
                "before any is written",
                min_length=1,
                max_length=100,
            ),
        ],
    ) -> dict[str, Any]:
        """Create CRM objects (companies need name or domain; contacts email or lastname; deals name and stage)."""
        return {"status": "COMPLETE", "results": store.create(objectType, inputs)}

    @server.tool(name="hubspot-batch-update-objects", annotations=UPDATE)
    @_tool_errors
    def batch_update(
        objectType: ObjectType,
        inputs: Annotated[
            list[dict[str, Any]], Field(description="[{id: '1001', properties: {...}}]", min_length=1, max_length=100)
        ],
    ) -> dict[str, Any]:
        """Set properties of existing CRM objects; all updates succeed or none is written."""
        return {"status": "COMPLETE", "results": store.update(objectType, inputs)}

    @server.tool(name="hubspot-list-associations", annotations=READ)
    @_tool_errors
    def list_associations(objectType: ObjectType, objectId: str, toObjectType: ObjectType) -> dict[str, Any]:
        """Objects of `toObjectType` associated with one object, e.g. a company's deals or contacts."""
        return {"results": store.associations(objectType, objectId, toObjectType)}

    @server.tool(name="hubspot-create-engagement", annotations=CREATE)
    @_tool_errors
    def create_engagement(
        type: Annotated[Literal["NOTE", "CALL", "EMAIL", "MEETING"], Field(description="Engagement type")],
        associations: Annotated[
            dict[str, list[str]], Field(description="{companyIds: [...], contactIds: [...], dealIds: [...]}")
        ],
        metadata: Annotated[dict[str, str], Field(description="{body: 'what happened'}")],
        ownerId: Annotated[str | None, Field(description="Owner id (hubspot-list-objects owners)")] = None,
    ) -> dict[str, Any]:
        """Log a note, call, email or meeting against companies, contacts or deals."""
        return store.create_engagement(type, metadata.get("body", ""), associations, ownerId)

    @server.tool(name="hubspot-list-properties", annotations=READ)
    @_tool_errors
    def list_properties(objectType: ObjectType) -> dict[str, Any]:
        """The properties an object type has, with what each means."""
        return {"results": [{"name": k, "description": v} for k, v in OBJECT_TYPES[objectType].items()]}

    return server


def main() -> None:
    build_server(sandbox_paths(__doc__ or "")).run("stdio")


if __name__ == "__main__":
    main()
