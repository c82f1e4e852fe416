"""Activity (de)serialisation without msrest's per-attribute cost, and the card message the bot sends.

Part of the botbuilder replacements (bot/sdk/__init__.py says why they exist).
"""

from __future__ import annotations

import copy
import json
import logging
import re
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
import isodate
import orjson
from botbuilder.core import CardFactory
from botbuilder.schema import Activity, ActivityTypes, Attachment, AttachmentLayoutTypes
from msrest import Serializer
from msrest.exceptions import DeserializationError
from msrest.serialization import (
    Deserializer,
    Model,
    full_restapi_key_transformer,
    rest_key_extractor,
    xml_key_extractor,
)

log = logging.getLogger(__name__)

TOKEN_REUSE_SECONDS = 60.0  # how long one signed Authorization header is reused before asking the credentials again
MAX_CLIENTS = 64  # distinct (app id, serviceUrl, audience): Teams uses a handful of regional serviceUrls
CONNECTIONS = 100  # pooled outbound connections (all hosts)
TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)



# --------------------------------------------------------------------------- serialisation

_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})
T = TypeVar("T")
_MAX_DEPTH = 64


_MAX_NODES = 100_000


def is_plain_json(value: Any) -> bool:
    """True for dicts/lists/str/int/float/bool/None of exactly those types (no subclasses, no Enums), str keys.
    Iterative, with a node budget (a structure that refers to itself is not plain: msrest gets it)."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    budget = _MAX_NODES
    while stack:
        item = pop()
        kind = type(item)
        if kind is str or kind is int or kind is float or kind is bool or item is None:
            continue
        budget -= 1
        if budget < 0:
            return False
        if kind is dict:
            for key in item:
                if type(key) is not str:
                    return False
            push(item.values())
        elif kind is list:
            push(item)
        else:
            return False
    return True


_PLANS: dict[type, tuple[tuple[str, str | None, str], ...] | None] = {}


def _model_plan(cls: type[Model]) -> tuple[tuple[str, str | None, str], ...] | None:
    """(attribute, JSON key or None for additional_properties, msrest type) for each attribute msrest would
    write, in msrest's order; None for a model msrest must handle itself (XML, flattened or read-only keys)."""
    try:
        return _PLANS[cls]
    except KeyError:
        pass
    plan: list[tuple[str, str | None, str]] = []
    try:
        if cls.is_xml_model():
            raise ValueError("XML model")
        for attr, desc in cls._attribute_map.items():
            if (getattr(cls, "_validation", None) or {}).get(attr, {}).get("readonly", False):
                raise ValueError("read-only attribute")
            if attr == "additional_properties" and desc["key"] == "":
                plan.append((attr, None, desc["type"]))
                continue
            keys, _ = full_restapi_key_transformer(attr, dict(desc), None)
            keys = keys if isinstance(keys, list) else [keys]
            if len(keys) != 1:
                raise ValueError("flattened key")
            plan.append((attr, keys[0], desc["type"]))
    except (AttributeError, KeyError, TypeError, ValueError):
        _PLANS[cls] = None
    else:
        _PLANS[cls] = tuple(plan)
    return _PLANS[cls]


# msrest types whose (de)serialisation hands back a value of exactly that Python type unchanged
_EXACT: dict[str, type] = {"str": str, "bool": bool, "int": int}


class CardAttachment(Attachment):
    """An Adaptive Card attachment whose content is a card this bot built for one outgoing message (cards/: plain
    JSON, not changed after). Two per-reply costs go:
    - TurnContext deep-copies every activity it sends (botbuilder-core turn_context.py, `send_activities`), a few
      hundred dicts and lists for a check result; this attachment's deep copy shares the card and copies the rest;
    - FastSerializer passes the card through without checking it is plain JSON first (orjson writes the body;
      tests/test_connector_reuse.py checks the bytes equal msrest's for every card the bot sends)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> CardAttachment:
        return _deep_copy(self, memo, shared="content")


class OutgoingActivity(Activity):
    """An activity this bot builds to send. TurnContext deep-copies every activity it sends; an Activity has
    ~45 attributes, nearly all None, and copy.deepcopy walks every one. This copy takes None and plain scalars as
    they are and deep-copies the rest (a CardAttachment still shares its card)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> OutgoingActivity:
        return _deep_copy(self, memo)


def _deep_copy(model: T, memo: dict[int, Any], shared: str = "") -> T:
    """copy.deepcopy of a model, but None and plain scalars are taken as they are (most of an Activity's ~45
    attributes are None) and the attribute named `shared` is shared, not copied."""
    clone = model.__class__.__new__(model.__class__)
    memo[id(model)] = clone
    clone.__dict__.update({key: value if value is None or type(value) in _JSON_SCALARS or key == shared
                           else copy.deepcopy(value, memo) for key, value in vars(model).items()})
    return clone


def card_message(card: dict[str, Any]) -> OutgoingActivity:
    """A message with one Adaptive Card: what MessageFactory.attachment(CardFactory.adaptive_card(card)) builds."""
    return OutgoingActivity(type=ActivityTypes.message, attachment_layout=AttachmentLayoutTypes.list,
                            attachments=[CardAttachment(content_type=CardFactory.content_types.adaptive_card,
                                                        content=card)])


_MODEL_ATTRS: dict[type, tuple[tuple[str, type, bool], ...] | None] = {}


def _model_attrs(cls: type, dependencies: dict[str, Any]) -> tuple[tuple[str, type, bool], ...] | None:
    """(attribute, model class, is a list) for each attribute of `cls` that holds models; None if one holds a
    dict of models or a list of lists (msrest's body() then does the work)."""
    try:
        return _MODEL_ATTRS[cls]
    except KeyError:
        pass
    out: list[tuple[str, type, bool]] = []
    for attr, desc in getattr(cls, "_attribute_map", {}).items():
        kind = desc["type"]
        inner = dependencies.get(kind.strip("[]{}"))
        if not (isinstance(inner, type) and issubclass(inner, Model)):
            continue
        if kind.startswith("{") or kind.startswith("[["):
            _MODEL_ATTRS[cls] = None
            return None
        out.append((attr, inner, kind.startswith("[")))
    _MODEL_ATTRS[cls] = tuple(out)
    return _MODEL_ATTRS[cls]


class FastSerializer(Serializer):
    """msrest's Serializer, producing the same output with less work:
    - a value of type `object` (an attachment's `content`, `channelData`, `value`) that is already plain JSON is
      passed through instead of being rebuilt node by node: msrest would produce an equal copy, at ~1 microsecond
      per node (it calls `eval` for every number), which is ~2.5 ms for a check-result card. Anything else (Enums,
      str subclasses, models, dates) takes msrest's own path;
    - a model is walked with a per-class plan of (attribute, key, type), skipping None attributes, where msrest
      parses every key and raises and catches a ValueError for each None attribute (an Activity has ~45).
    tests/test_connector_reuse.py checks the output equals msrest's for captured and generated activities."""

    def body(self, data: Any, data_type: str, **kwargs: Any) -> Any:
        """msrest's body() first runs a Deserializer over the data ("just in case this is a dict"), which turns a
        dict found where a model belongs into that model. For data that is models all the way down (every
        activity this bot sends) the pass changes nothing, so it is skipped; anything else takes msrest's path."""
        model = self.dependencies.get(data_type)
        if (kwargs or self.client_side_validation or not (isinstance(model, type) and isinstance(data, model))
                or not self._models_all_the_way(data, 0)):
            return super().body(data, data_type, **kwargs)
        return self._serialize(data, data_type, is_xml=False)

    def _models_all_the_way(self, obj: Any, depth: int) -> bool:
        attrs = _model_attrs(type(obj), self.dependencies)
        if attrs is None or depth > _MAX_DEPTH:
            return False
        for attr, model, many in attrs:
            value = getattr(obj, attr, None)
            if value is None:
                continue
            if many and type(value) is not list:
                return False
            for item in value if many else (value,):
                if not isinstance(item, model) or not self._models_all_the_way(item, depth + 1):
                    return False
        return True

    def _serialize(self, target_obj: Any, data_type: str | None = None, **kwargs: Any) -> Any:
        model = self.dependencies.get(data_type) if data_type else None
        plan = (_model_plan(type(target_obj)) if isinstance(target_obj, Model)
                and (data_type is None or (isinstance(model, type) and isinstance(target_obj, model))) else None)
        if plan is None or kwargs.keys() - {"is_xml"} or kwargs.get("is_xml"):
            return super()._serialize(target_obj, data_type, **kwargs)
        # msrest's model walk, without its per-attribute key parsing and without raising for every None
        serialized: dict[str, Any] = {}
        for attr, key, attr_type in plan:
            value = getattr(target_obj, attr)
            if value is None:
                continue
            if key is None:  # additional_properties
                serialized.update(value)
                continue
            if type(value) is _EXACT.get(attr_type):  # msrest returns an exact str, bool or int as it is
                serialized[key] = value
                continue
            if attr == "content" and type(target_obj) is CardAttachment:
                serialized[key] = value
                continue
            try:
                serialized[key] = self.serialize_data(value, attr_type, **kwargs)
            except ValueError:
                continue
        return serialized

    def serialize_object(self, attr: Any, **kwargs: Any) -> Any:
        if (type(attr) in (dict, list) and not kwargs.get("is_xml") and not kwargs.get("basic_types_serializers")
                and is_plain_json(attr)):
            return attr
        return super().serialize_object(attr, **kwargs)


_READ_PLANS: dict[type, tuple[tuple[tuple[str, str, str], ...], frozenset[str] | None] | None] = {}


def _read_plan(cls: type[Model]) -> tuple[tuple[tuple[str, str, str], ...], frozenset[str] | None] | None:
    """((attribute, JSON key, msrest type), ...) and the keys msrest knows (for additional_properties: None when
    the model declares a real `additional_properties`), or None when msrest must handle the model itself
    (flattened or escaped keys, polymorphic models)."""
    try:
        return _READ_PLANS[cls]
    except KeyError:
        pass
    plan: tuple[tuple[tuple[str, str, str], ...], frozenset[str] | None] | None
    try:
        if getattr(cls, "_subtype_map", None):
            raise ValueError("polymorphic")
        attrs = []
        for attr, desc in cls._attribute_map.items():
            if attr == "additional_properties" and desc["key"] == "":
                continue
            key = desc["key"]
            if not key or "." in key or "\\" in key:
                raise ValueError("flattened or escaped key")
            attrs.append((attr, key, desc["type"]))
        amap = cls._attribute_map
        real_extra = "additional_properties" in amap and amap["additional_properties"].get("key") != ""
        known = None if real_extra else frozenset(d["key"] for d in amap.values() if d["key"] != "")
        plan = (tuple(attrs), known)
    except (AttributeError, KeyError, TypeError, ValueError):
        plan = None
    _READ_PLANS[cls] = plan
    return plan


def _copy_plain_json(value: Any, depth: int = 0) -> Any:
    """A copy of plain JSON (exact dict/list/str/int/float/bool/None types); raises TypeError otherwise."""
    kind = type(value)
    if kind in _JSON_SCALARS:
        return value
    if depth > _MAX_DEPTH:
        raise TypeError("too deep")
    if kind is dict:
        return {k if type(k) is str else _raise(): _copy_plain_json(v, depth + 1) for k, v in value.items()}
    if kind is list:
        return [_copy_plain_json(v, depth + 1) for v in value]
    raise TypeError("not plain JSON")


def _raise() -> Any:
    raise TypeError("not plain JSON")


# A timestamp as Teams and the Bot Framework write them: '2026-11-28T17:42:13.978Z', '...13.978+00:00'.
_TIMESTAMP = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d:\d\d)")
_TIMEZONES: dict[str, Any] = {}


def _timestamp(text: str) -> datetime | None:
    """What msrest's deserialize_iso returns (isodate's datetime, with isodate's UTC or FixedOffset) for the
    common form, without its string surgery and isodate's regex and Decimal arithmetic; None for anything else
    (seven fraction digits, lower case, no zone, ...), which then takes msrest's own path."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if not "0001" < year < "9999":  # msrest refuses a time whose UTC year leaves 1..9999: its path decides
        return None
    tz = _TIMEZONES.get(zone)
    if tz is None:
        tz = _TIMEZONES.setdefault(zone, isodate.parse_tzinfo(zone))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                        int(fraction.ljust(6, "0")) if fraction else 0, tzinfo=tz)
    except ValueError:  # 31 February, hour 24, year 0: msrest words the error
        return None


class FastDeserializer(Deserializer):
    """msrest's Deserializer with the same results for JSON input, with less work:
    - a model read from a dict uses a per-class plan (each attribute's key looked up once) instead of running
      every key extractor over every attribute;
    - a value of type `object` (channelData, value, an attachment's content) that is plain JSON is copied in one
      pass, where msrest rebuilds it node by node through `eval`.
    Anything else (XML, flattened keys, polymorphic models, custom key extractors) takes msrest's path.
    tests/test_connector_reuse.py checks the results equal msrest's for captured and generated activities."""

    def _deserialize(self, target_obj: Any, data: Any) -> Any:
        if (type(data) is not dict or not self.additional_properties_detection
                or self.key_extractors != [rest_key_extractor, xml_key_extractor]):
            return super()._deserialize(target_obj, data)
        response, class_name = self._classify_target(target_obj, data)
        plan = _read_plan(response) if isinstance(response, type) and issubclass(response, Model) else None
        if plan is None:
            return super()._deserialize(target_obj, data)
        attrs, known = plan
        values = {}
        try:
            for attr, key, attr_type in attrs:
                value = data.get(key)
                # msrest returns None, and an exact str, bool or int of that type, as it is
                if value is None or type(value) is _EXACT.get(attr_type):
                    values[attr] = value
                elif attr_type == "iso-8601" and type(value) is str and (when := _timestamp(value)) is not None:
                    values[attr] = when
                else:
                    values[attr] = self.deserialize_data(value, attr_type)
        except (AttributeError, TypeError, KeyError) as err:
            raise DeserializationError("Unable to deserialize to object: " + class_name) from err
        extra = None if known is None else {k: data[k] for k in data.keys() - known}
        return self._instantiate_model(response, values, extra)

    def deserialize_object(self, attr: Any, **kwargs: Any) -> Any:
        if type(attr) in (dict, list):
            try:
                return _copy_plain_json(attr)
            except TypeError:
                pass
        return super().deserialize_object(attr, **kwargs)


_ACTIVITY_DESERIALIZER: FastDeserializer | None = None


def is_json(content_type: str | None) -> bool:
    """msrest's RawDeserializer reads a body as JSON when its content type says so, or says nothing."""
    return content_type is None or content_type.split(";")[0].strip().lower() == "application/json"


def json_bytes(body: Any) -> bytes:
    """The request body msrest's ClientRequest.add_content would send (JSON as UTF-8), by orjson: about a tenth of
    json.dumps's cost for a card. Non-ASCII text goes as UTF-8 rather than as \\u escapes (the same JSON). What
    orjson refuses (a key that is not a string, an integer beyond 64 bits) takes json.dumps."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body).encode("utf-8")


def parse_activity(data: dict[str, Any]) -> Activity:
    """`Activity().deserialize(data)`, faster (see FastDeserializer); the same Activity for the same JSON."""
    global _ACTIVITY_DESERIALIZER
    if _ACTIVITY_DESERIALIZER is None:
        _ACTIVITY_DESERIALIZER = FastDeserializer(Activity._infer_class_models())
    return _ACTIVITY_DESERIALIZER("Activity", data)
