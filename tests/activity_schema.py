"""Hypothesis strategies for Bot Framework activities, generated from botbuilder's own schema.

Every field of `botbuilder.schema.Activity` (its msrest `_attribute_map`), and every field of the models it
contains, gets a strategy from its declared type; string fields whose allowed values the SDK names (the enums of
`botbuilder.schema`: ActivityTypes, DeliveryModes, RoleTypes, InputHints, TextFormatTypes, ...) draw from those
values. A field the SDK adds, or an enum value it adds, is therefore sent to the bot by the next test run without
anyone listing it here; `test_fuzz_http.test_the_schema_strategies_cover_every_field_and_enum` fails if an enum
appears that is not mapped to a field.
"""

from __future__ import annotations

import base64
import enum
import inspect
import re
from datetime import UTC, datetime
from typing import Any

import botbuilder.schema as schema
from botbuilder.core import ActivityHandler
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import Activity
from hypothesis import strategies as st

MODELS: dict[str, type] = {name: cls for name, cls in Activity._infer_class_models().items()
                           if isinstance(getattr(cls, "_attribute_map", None), dict)}


def _values(*enums: type[enum.Enum]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(member.value) for e in enums for member in e))


def _sdk_invoke_and_event_names() -> tuple[str, ...]:
    """The activity names the SDK's handlers route on (invokes such as adaptiveCard/action, composeExtension/...,
    signin/..., and event names), read from its source, so that a name the SDK adds is tried too."""
    source = inspect.getsource(ActivityHandler) + inspect.getsource(TeamsActivityHandler)
    return tuple(sorted(set(re.findall(r'activity\.name\s*==\s*"([^"]+)"', source))))


# (model, attribute) -> the values the schema allows. Keys are msrest attribute names.
ENUM_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Activity", "type"): _values(schema.ActivityTypes),
    ("Activity", "text_format"): _values(schema.TextFormatTypes),
    ("Activity", "attachment_layout"): _values(schema.AttachmentLayoutTypes),
    ("Activity", "input_hint"): _values(schema.InputHints),
    ("Activity", "action"): _values(schema.ContactRelationUpdateActionTypes, schema.InstallationUpdateActionTypes),
    ("Activity", "code"): _values(schema.EndOfConversationCodes),
    ("Activity", "importance"): _values(schema.ActivityImportance),
    ("Activity", "delivery_mode"): _values(schema.DeliveryModes),
    ("Activity", "name"): tuple(dict.fromkeys(
        _values(schema.ActivityEventNames, schema.SignInConstants) + _sdk_invoke_and_event_names())),
    ("Activity", "caller_id"): _values(schema.CallerIdConstants),
    ("ChannelAccount", "role"): _values(schema.RoleTypes),
    ("ConversationAccount", "role"): _values(schema.RoleTypes),
    # Not an SDK enum: the values Teams sends (and what the bot must tell apart: personal vs shared).
    ("ConversationAccount", "conversation_type"): ("personal", "groupChat", "channel"),
    ("MessageReaction", "type"): _values(schema.MessageReactionTypes),
    ("CardAction", "type"): _values(schema.ActionTypes),
}

#: Every enum of botbuilder.schema the strategies use (the coverage test compares this with the module).
ENUMS_USED: frozenset[type] = frozenset({
    schema.ActivityTypes, schema.TextFormatTypes, schema.AttachmentLayoutTypes, schema.InputHints,
    schema.ContactRelationUpdateActionTypes, schema.InstallationUpdateActionTypes, schema.EndOfConversationCodes,
    schema.ActivityImportance, schema.DeliveryModes, schema.ActivityEventNames, schema.SignInConstants,
    schema.CallerIdConstants, schema.RoleTypes, schema.MessageReactionTypes, schema.ActionTypes,
})


def schema_enums() -> set[type]:
    return {value for value in vars(schema).values()
            if isinstance(value, type) and issubclass(value, enum.Enum) and value.__module__.startswith("botbuilder")}


TEXT = st.text(max_size=40)
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53),
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
JSON = st.recursive(JSON_LEAF, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                      st.dictionaries(st.text(max_size=10), kids, max_size=3)),
                    max_leaves=12)
TIMESTAMP = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                         timezones=st.just(UTC)).map(lambda d: d.isoformat().replace("+00:00", "Z"))
SCALARS = {
    "str": TEXT,
    "bool": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(0, 2**53),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "iso-8601": TIMESTAMP,
    "bytearray": st.binary(max_size=20).map(lambda b: base64.b64encode(b).decode()),
    "object": JSON,
}
MAX_DEPTH = 3
JSON_OBJECT = st.dictionaries(st.text(max_size=10), JSON, max_size=3)
#: msrest types these `object`, but the Bot Framework activity protocol defines them as JSON objects.
OBJECT_FIELDS = frozenset({("Activity", "channel_data"), ("ChannelAccount", "properties"),
                           ("ConversationAccount", "properties")})

#: Entities are open-ended in the schema (`Entity` has only `type`); these are the shapes Teams sends.
MENTION = st.fixed_dictionaries({"type": st.just("mention"), "text": st.one_of(TEXT, st.just("<at>Register</at>")),
                                 "mentioned": st.fixed_dictionaries({"id": TEXT}, optional={"name": TEXT})})
CLIENT_INFO = st.fixed_dictionaries({"type": st.just("clientInfo")},
                                    optional={"locale": TEXT, "country": TEXT, "platform": TEXT, "timezone": TEXT})


def field_value(model: str, attr: str, kind: str, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value of the declared type (or one of the allowed values) for one attribute of a schema model."""
    allowed = ENUM_FIELDS.get((model, attr))
    if allowed is not None:
        return st.sampled_from(allowed)
    if (model, attr) in OBJECT_FIELDS:
        return JSON_OBJECT
    return type_value(kind, depth)


def type_value(kind: str, depth: int = 0) -> st.SearchStrategy[Any]:
    if kind in SCALARS:
        return SCALARS[kind]
    if kind.startswith("[") and kind.endswith("]"):
        return st.lists(type_value(kind[1:-1], depth + 1), max_size=3)
    if kind.startswith("{") and kind.endswith("}"):
        return st.dictionaries(st.text(max_size=10), type_value(kind[1:-1], depth + 1), max_size=3)
    if kind == "Entity":
        return st.one_of(model_value("Entity", depth), MENTION, CLIENT_INFO)
    if kind in MODELS:
        return model_value(kind, depth)
    raise AssertionError(f"no strategy for the schema type {kind!r}: add one to tests/activity_schema.py")


def model_value(name: str, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object for a schema model: any subset of its fields, each with a value of its declared type."""
    if depth > MAX_DEPTH:
        return st.just({})
    attrs = MODELS[name]._attribute_map
    return st.fixed_dictionaries({}, optional={
        desc["key"]: field_value(name, attr, desc["type"], depth + 1) for attr, desc in attrs.items()})


def reachable_models(root: str = "Activity") -> list[str]:
    """The schema models an Activity can contain, root first."""
    seen: list[str] = []
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        todo.extend(inner for desc in MODELS[name]._attribute_map.values()
                    if (inner := desc["type"].strip("[]{}")) in MODELS)
    return seen


def activity_fields() -> dict[str, st.SearchStrategy[Any]]:
    """Every top-level Activity field (JSON key) -> a strategy for a value the schema allows."""
    return {desc["key"]: field_value("Activity", attr, desc["type"])
            for attr, desc in Activity._attribute_map.items()}
