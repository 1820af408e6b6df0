"""The version of the JSON documents every command writes (docs/json.md).

Scripts that read symbackprop's JSON check `schema_version` first. It goes up by one when a
field is removed, renamed or changes meaning; new fields do not change it.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 1


def versioned(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with `schema_version` as its first key."""
    return {"schema_version": SCHEMA_VERSION, **{key: value for key, value in doc.items() if key != "schema_version"}}
