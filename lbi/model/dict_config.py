"""Dataclass configs that travel as plain dicts (weights headers, YAML files): unknown keys are refused by name."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any


def unknown_keys(cls: type, data: dict[str, Any]) -> list[str]:
    """The keys of ``data`` that are not fields of the dataclass ``cls``, sorted."""
    return sorted(set(data) - {f.name for f in fields(cls)})


class DictConfig:
    """Mixin for a dataclass config: ``to_dict`` and ``from_dict``, the latter raising ValueError on unknown keys."""

    def to_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        unknown = unknown_keys(cls, data)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys: {unknown}")
        return cls(**data)
