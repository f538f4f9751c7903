"""Call observers: the seam through which features watch the client's calls, so the client imports none of them.

An observer is any object with the method of :class:`modelswap.hookspecs.CallObserver`,
``record(spec, messages, params, completion=None, *, error=None, latency_s=None)``, called once per finished
call; :class:`modelswap.shadow.TrafficRecorder` is one. A :class:`~modelswap.Client` given no recorder asks
every observer *factory* for one: a callable taking no arguments that returns an observer, or None when the
environment does not ask for one. Factories register under the entry-point group ``modelswap.observers``;
the built-in one (shadow recording, switched on by ``$MODELSWAP_RECORD``) is listed here by name only, the way
built-in provider kinds are, and imported on first use.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

from .hookspecs import OBSERVER_GROUP

if TYPE_CHECKING:
    from .hookspecs import CallObserver

__all__ = ["observers_from_environment"]

_BUILTIN_OBSERVERS = {"shadow-record": "modelswap.shadow:recorder_from_env"}
_factories: list[Callable[[], Any]] | None = None
_lock = threading.Lock()


def _load(target: str) -> Callable[[], Any]:
    from importlib import import_module

    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)  # type: ignore[no-any-return]


def _all_factories() -> list[Callable[[], Any]]:
    global _factories
    if _factories is None:
        with _lock:
            if _factories is None:
                from importlib.metadata import entry_points

                targets = dict(_BUILTIN_OBSERVERS)
                targets.update({ep.name: ep.value for ep in entry_points(group=OBSERVER_GROUP)})
                _factories = [_load(target) for _, target in sorted(targets.items())]
    return _factories


def observers_from_environment() -> list[CallObserver]:
    """The observers the environment asks for, one per factory that returns one (usually none)."""
    return [observer for factory in _all_factories() if (observer := factory()) is not None]
