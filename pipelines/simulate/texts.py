"""The simulated world's words, kept as data: `names.yaml` and `texts.yaml` beside this file.

They are data rather than code so that a writer can add a complaint or a town without
reading the generator, and so that the generator reads as behaviour. The files are read
once, at import, through `importlib.resources` (so they are found in an installed wheel as
in a checkout); lists become tuples, because the generator draws from them by position
and nothing may change them. The order of every list is part of the world: the same seed
gives the same events only as long as the lists keep their order.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return {k: _frozen(v) for k, v in value.items()}
    return value


def load(name: str) -> dict[str, Any]:
    """One of the package's YAML files, lists as tuples."""
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    document = yaml.load(text, Loader=_Loader)
    if not isinstance(document, dict):
        raise ValueError(f"pipelines/simulate/{name} is not a mapping of lists")
    frozen: dict[str, Any] = _frozen(document)
    return frozen


_NAMES = load("names.yaml")
TOWNS: tuple[str, ...] = _NAMES["towns"]
REGIONS: tuple[str, ...] = _NAMES["regions"]
NAME_POOLS: dict[str, tuple[str, ...]] = _NAMES["name_pools"]
FIRST_NAMES: tuple[str, ...] = _NAMES["first_names"]
SURNAMES: tuple[str, ...] = _NAMES["surnames"]
INFLUENCER_HANDLES: tuple[str, ...] = _NAMES["influencer_handles"]
INITIALS: tuple[str, ...] = _NAMES["initials"]

_TEXTS = load("texts.yaml")
COMMON_SLOTS: dict[str, dict[str, tuple[str, ...]]] = _TEXTS["common_slots"]
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = _TEXTS["templates"]
KIND_SLOTS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = _TEXTS["kind_slots"]
DESTINATIONS: dict[str, tuple[str, ...]] = _TEXTS["destinations"]
SURGES: dict[str, dict[str, tuple[str, ...]]] = _TEXTS["surges"]
REPLIES: dict[str, dict[str, tuple[str, ...]]] = _TEXTS["replies"]
FOLLOW_UPS: dict[str, dict[str, tuple[str, ...]]] = _TEXTS["follow_ups"]
POSTS: dict[str, tuple[str, ...]] = _TEXTS["posts"]
HEADLINES: tuple[str, ...] = _TEXTS["headlines"]
JOURNALIST_POSTS: tuple[str, ...] = _TEXTS["journalist_posts"]
SHARE_TEXTS: tuple[str, ...] = _TEXTS["share_texts"]
ANGRY: tuple[str, ...] = _TEXTS["angry"]
HAPPY: tuple[str, ...] = _TEXTS["happy"]
NEUTRAL: tuple[str, ...] = _TEXTS["neutral"]
DUTCH_SLIPS: tuple[tuple[str, str], ...] = _TEXTS["dutch_slips"]
