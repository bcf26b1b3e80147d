"""What each model accepts, as data, and the check made before any request is sent.

Gateways add models every month, so a model with no rules passes through unchecked. Users add or
replace rules with :func:`register_model`::

    sora_nb.capabilities.register_model("veo-3", dialect="openai",
                                        sizes=["1280x720", "720x1280"], durations=[8])

Rules are kept per request family, because the same model name takes different words on different
endpoints: ``unified`` (``/v1/video/create``: size ``small``/``large``, ``duration`` seconds) and
``openai`` (``/v1/videos``: size ``WIDTHxHEIGHT``, ``seconds``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from . import dialects
from ._exceptions import ValidationError
from .dialects import Dialect
from .models import VideoRequest

__all__ = [
    "ORIENTATIONS",
    "ModelRules",
    "forget_gateway",
    "is_strict",
    "is_video_model",
    "known_models",
    "pixel_sizes",
    "register_gateway",
    "register_model",
    "rules_for",
    "validate_video_request",
]

ORIENTATIONS = ("portrait", "landscape")
_WXH = re.compile(r"^\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*$")


@dataclass(frozen=True)
class ModelRules:
    """The sizes and durations one model takes on one request family. The first is the default."""

    sizes: tuple[str, ...]
    durations: tuple[float, ...]
    orientations: tuple[str, ...] = ORIENTATIONS

    @property
    def default_size(self) -> str:
        return self.sizes[0]

    @property
    def default_duration(self) -> float:
        return self.durations[0]


# (family, model) -> rules. Families are named by each dialect's ``rules``: "unified"
# (``/video/create``, size words) and "openai" (``/videos``, WIDTHxHEIGHT sizes).
_RULES: dict[tuple[str, str], ModelRules] = {
    ("unified", "sora-2"): ModelRules(sizes=("small", "large"), durations=(10, 15)),
    ("unified", "sora-2-pro"): ModelRules(sizes=("large",), durations=(15, 25)),
    ("openai", "sora-2"): ModelRules(sizes=("720x1280", "1280x720"), durations=(4, 8, 12)),
    ("openai", "sora-2-pro"): ModelRules(
        sizes=("720x1280", "1280x720", "1024x1792", "1792x1024"), durations=(4, 8, 12)
    ),
}
_BUILTIN = dict(_RULES)

# Size words mapped to OpenAI's sizes, by orientation, so `--size large --orientation landscape`
# means the same thing on every dialect.
_OPENAI_SIZE_WORDS = {
    ("small", "portrait"): "720x1280",
    ("small", "landscape"): "1280x720",
    ("large", "portrait"): "1024x1792",
    ("large", "landscape"): "1792x1024",
}


@dataclass(frozen=True)
class RuleFamily:
    """How one family of routes words sizes, and what it needs when a model has no rules."""

    pixel_sizes: bool  # sizes are WIDTHxHEIGHT; size words are mapped by orientation
    fallback: ModelRules | None = None  # sent when the model has no rules and nothing was given
    default_orientation: str | None = None


_FAMILIES: dict[str, RuleFamily] = {
    # The unified relays reject a create missing any field (6ai.chat docs), so defaults are sent.
    "unified": RuleFamily(
        pixel_sizes=False,
        fallback=ModelRules(sizes=("small",), durations=(10,)),
        default_orientation="portrait",
    ),
    "openai": RuleFamily(pixel_sizes=True),
}


def _family(dialect: str | Dialect) -> str | None:
    return dialects.get(dialect).rules


def _family_of(dialect: str | Dialect) -> str:
    family = _family(dialect)
    if family is None:
        raise ValueError(f"the {dialects.get(dialect).name} dialect has no model rules")
    return family


def register_model(
    model: str,
    *,
    dialect: str = "unified",
    sizes: Iterable[str],
    durations: Iterable[float],
    orientations: Iterable[str] = ORIENTATIONS,
) -> ModelRules:
    """Add or replace the rules for ``model`` on ``dialect``'s request family."""
    rules = ModelRules(
        sizes=tuple(sizes),
        durations=tuple(float(d) for d in durations),
        orientations=tuple(orientations),
    )
    if not rules.sizes or not rules.durations:
        raise ValueError("a model needs at least one size and one duration")
    _RULES[(_family_of(dialect), model)] = rules
    return rules


def forget_model(model: str, *, dialect: str = "unified") -> None:
    """Remove user rules for ``model``; built-in rules come back."""
    key = (_family_of(dialect), model)
    if key in _BUILTIN:
        _RULES[key] = _BUILTIN[key]
    else:
        _RULES.pop(key, None)


def rules_for(model: str, dialect: str | Dialect = "unified") -> ModelRules | None:
    """The rules for ``model`` on ``dialect``, or None when the model is unknown (no checks)."""
    family = _family(dialect)
    return None if family is None else _RULES.get((family, model))


def known_models(dialect: str | Dialect | None = None) -> list[str]:
    """Models that have rules on ``dialect``'s family (every family when None), in order."""
    family = None if dialect is None else _family(dialect)
    models = [m for (f, m) in _RULES if dialect is None or f == family]
    return list(dict.fromkeys(models))


def pixel_sizes(dialect: str | Dialect) -> bool:
    """Whether ``dialect``'s family words sizes as WIDTHxHEIGHT (else as size words)."""
    family = _FAMILIES.get(_family(dialect) or "")
    return family is not None and family.pixel_sizes


def _fmt(values: Iterable[object]) -> str:
    return ", ".join(_num(v) if isinstance(v, float) else str(v) for v in values)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _check_duration(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationError(f"duration must be a number of seconds, not {value!r}")
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError(f"duration must be a number of seconds, not {value!r}") from None
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise ValidationError(f"duration must be a positive number of seconds, not {value!r}")
    return seconds


def validate_video_request(
    request: VideoRequest,
    dialect: str | Dialect,
    *,
    strict: bool = True,
    notes: list[str] | None = None,
) -> VideoRequest:
    """Check ``request`` against the model's rules and fill in defaults.

    Returns the request as it will be sent (sizes in the family's own words). Raises
    :class:`ValidationError` with one line naming the allowed values; nothing is sent then.

    ``strict=False`` (a relay whose rules sora_nb does not know: see :func:`is_strict`): a value
    outside the rules sora_nb knows goes through as asked, and ``notes`` gets one line about it;
    the relay's own refusal, if any, is the answer. A request that cannot make sense (no
    prompt, a size that contradicts the orientation) is refused either way.
    """
    notes = notes if notes is not None else []

    def refuse(message: str) -> None:
        if strict:
            raise ValidationError(message)
        notes.append(f"{message}: sent as asked, the relay decides")

    if not isinstance(request.prompt, str) or not request.prompt.strip():
        raise ValidationError("the prompt is empty: say what the video should show")
    if not isinstance(request.model, str) or not request.model.strip():
        raise ValidationError("no model given (for example --model sora-2)")
    family_of = dialects.get(dialect)
    if request.images and not family_of.abilities.images:
        raise ValidationError(f"the {family_of.name} dialect cannot send reference images")
    if not family_of.abilities.options:
        given = [n for n in ("orientation", "size", "duration") if getattr(request, n) is not None]
        if given:
            raise ValidationError(
                f"the {family_of.name} dialect takes only a prompt and images; it cannot send "
                f"{', '.join(given)} (use dialect 'unified' or 'openai' for those)"
            )
        return (
            request
            if isinstance(request.images, tuple)
            else replace(request, images=tuple(request.images))
        )
    orientation = request.orientation
    if orientation is not None:
        orientation = orientation.strip().lower()
        if orientation not in ORIENTATIONS:
            raise ValidationError(
                f"orientation {request.orientation!r} is not one of {', '.join(ORIENTATIONS)}"
            )
    duration = _check_duration(request.duration)
    family = _FAMILIES.get(family_of.rules or "")
    rules = rules_for(request.model, family_of)
    size = request.size.strip() if isinstance(request.size, str) else request.size
    if size is not None and not isinstance(size, str):
        raise ValidationError(f"size must be text such as 'small' or '1280x720', not {size!r}")
    limit = family_of.abilities.max_images
    if limit is not None and len(request.images) > limit:
        raise ValidationError(
            f"the {family_of.name} dialect takes at most {limit} reference image"
            + ("s" if limit != 1 else "")
        )

    if family is not None and family.pixel_sizes:
        size, orientation = _openai_size(size, orientation, request.model, rules, refuse)
    elif size is not None and _WXH.match(size) and rules is not None:
        refuse(
            f"{request.model} on the {family_of.name} dialect takes size {_fmt(rules.sizes)}, "
            f"not {size!r}"
        )

    if rules is not None:
        if orientation is not None and orientation not in rules.orientations:
            refuse(
                f"{request.model} takes orientation {_fmt(rules.orientations)}, not {orientation!r}"
            )
        if size is not None and size not in rules.sizes:
            refuse(
                f"{request.model} takes size {_fmt(rules.sizes)}, not {request.size!r}"
                + (f" (as {size})" if size != request.size else "")
            )
        if duration is not None and duration not in rules.durations:
            refuse(
                f"{request.model} takes duration {_fmt(rules.durations)} seconds, "
                f"not {_num(duration)}"
            )
    defaults = rules or (family.fallback if family is not None else None)
    if defaults is not None:
        size = size if size is not None else defaults.default_size
        duration = duration if duration is not None else defaults.default_duration
    if orientation is None and family is not None:
        orientation = family.default_orientation
    if orientation is None and size and _WXH.match(size):
        orientation = _orientation_of(size)
    return replace(
        request, orientation=orientation, size=size, duration=duration, images=tuple(request.images)
    )


def _openai_size(
    size: str | None,
    orientation: str | None,
    model: str,
    rules: ModelRules | None,
    refuse: Callable[[str], None],
) -> tuple[str | None, str | None]:
    """Turn size words into OpenAI sizes; check a WIDTHxHEIGHT against the orientation."""
    if size is None:
        if rules is not None and orientation is not None:
            # The model's first size in the asked orientation.
            for candidate in rules.sizes:
                if _orientation_of(candidate) == orientation:
                    return candidate, orientation
            refuse(f"{model} has no {orientation} size; it takes size {_fmt(rules.sizes)}")
        return size, orientation
    key = (size.lower(), orientation or "portrait")
    if key in _OPENAI_SIZE_WORDS:
        return _OPENAI_SIZE_WORDS[key], orientation or "portrait"
    match = _WXH.match(size)
    if not match:
        refuse(f"size {size!r} is neither WIDTHxHEIGHT (e.g. 1280x720) nor one of small, large")
        return size, orientation
    size = f"{int(match.group(1))}x{int(match.group(2))}"
    actual = _orientation_of(size)
    if orientation is not None and actual is not None and actual != orientation:
        raise ValidationError(f"size {size} is {actual}, but orientation {orientation} was asked")
    return size, orientation or actual


def _orientation_of(size: str) -> str | None:
    match = _WXH.match(size)
    if not match:
        return None
    w, h = int(match.group(1)), int(match.group(2))
    return "landscape" if w > h else "portrait" if h > w else None


# Names video models go by on relays; a chat model whose name starts so is asked for a video.
_VIDEO_MODEL_PREFIXES = ("sora", "veo", "kling", "runway", "wan", "hailuo", "seedance")


def is_video_model(model: str) -> bool:
    """Whether ``model`` makes videos: it has rules, or its name says so (``veo-3``, …)."""
    return model in known_models() or model.lower().startswith(_VIDEO_MODEL_PREFIXES)


# Gateways whose rules sora_nb knows, so a value outside them is refused before anything is
# sent: OpenAI's own API, and what register_gateway() names (the built-in emulator registers
# itself; a user who knows their relay's rules can too). Elsewhere the rules only advise.
_STRICT_HOSTS = {"api.openai.com"}
_STRICT_GATEWAYS: set[str] = set()


def register_gateway(base_url: str) -> None:
    """Check requests to ``base_url`` strictly against the model rules sora_nb knows."""
    _STRICT_GATEWAYS.add(base_url.rstrip("/"))


def forget_gateway(base_url: str) -> None:
    _STRICT_GATEWAYS.discard(base_url.rstrip("/"))


def is_strict(base_url: str | None) -> bool:
    """Whether the model rules are a gateway's own (refuse) or only what sora_nb knows (advise)."""
    if not base_url:
        return True
    from urllib.parse import urlsplit

    host = (urlsplit(base_url).hostname or "").lower()
    return host in _STRICT_HOSTS or base_url.rstrip("/") in _STRICT_GATEWAYS
