"""The objective registry: ``@register_objective("name")`` and ``build_objective(name, config, context)``.

``none`` is not an objective but the absence of one: no loop runs and the initial selection is
the result (a coreset). :func:`objective_names` lists it with the registered names, so that
settings can be checked against one list; :func:`build_objective` returns None for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, TypeVar

from beamsim.distill.objectives.base import Objective, ObjectiveContext

if TYPE_CHECKING:
    from beamsim.distill.config import DistillConfig

__all__ = ["register_objective", "build_objective", "objective_class", "objective_names", "NO_OBJECTIVE"]

#: The objective name that means "no loop": the initial selection is the result.
NO_OBJECTIVE = "none"

_REGISTRY: dict[str, type[Objective]] = {}
O = TypeVar("O", bound=type)


def register_objective(name: str) -> Callable[[O], O]:
    """Class decorator: make an :class:`~beamsim.distill.objectives.base.Objective` subclass
    available to :func:`build_objective` (and ``QuADD``) as ``name``.

    Raises:
        ValueError: ``name`` is ``none`` or taken by another class.
    """

    def decorate(cls: O) -> O:
        if name == NO_OBJECTIVE:
            raise ValueError(f"{NO_OBJECTIVE!r} means no objective (no loop); choose another name")
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"objective {name!r} is already registered by {_REGISTRY[name].__name__}")
        if not (isinstance(cls, type) and issubclass(cls, Objective)):
            raise TypeError(f"an objective must subclass Objective, not {cls!r}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def objective_names() -> list[str]:
    """The names a run may use: the registered objectives and ``none``, sorted.

    >>> objective_names()
    ['dc', 'dm', 'none', 'tm']
    """
    return sorted([*_REGISTRY, NO_OBJECTIVE])


def objective_class(name: str) -> type[Objective] | None:
    """The class registered as ``name`` (None for ``none``).

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    if name == NO_OBJECTIVE:
        return None
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown objective {name!r}: known objectives are {', '.join(objective_names())}") from None


def build_objective(name: str, config: "DistillConfig", context: ObjectiveContext) -> Objective | None:
    """The objective ``name`` for a run with ``config`` on ``context`` (None for ``none``).

    Building may be expensive (trajectory matching trains or loads its experts here).

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    cls = objective_class(name)
    return None if cls is None else cls(config, context)
