"""Settings that several tasks share, grouped in dataclasses (mappings in YAML).

:class:`Rollout` is how a task runs its NCA: the automaton's step counts, update rate and
checkpointed BPTT.  :func:`as_settings` turns what a constructor received (an instance, the plain
dict a checkpoint's hyper-parameters hold, or None) into the dataclass; tasks store plain dicts in
their hyper-parameters (:meth:`~nca_zoo.tasks.base.BaseTask.settings`), so a checkpoint reloads
without importing the dataclasses.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Optional, TypeVar, Union

T = TypeVar("T")


@dataclass
class Rollout:
    """How the NCA runs (:class:`~nca_zoo.automaton.Automaton`; docs/paper-to-code.md §1).

    ``steps``: an int, or ``[low, high]`` drawn per rollout in training; ``eval_steps``: the step
    count in eval mode (None: ``steps``, or its upper end); ``update_rate``: probability that a
    cell updates in a step (1.0 = synchronous); ``checkpoint_every``: checkpointed BPTT segment
    length (0 = plain BPTT; it changes memory, never gradients).
    """

    steps: Union[int, list[int]] = field(default_factory=lambda: [8, 32])
    eval_steps: Optional[int] = None
    update_rate: float = 1.0
    checkpoint_every: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.steps, int):
            self.steps = [int(s) for s in self.steps]
        if self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0, got {self.checkpoint_every}")

    def model_args(self) -> dict:
        """The automaton's keyword arguments, as the registered NCA models take them."""
        args = {"steps": self.steps, "update_rate": self.update_rate,
                "checkpoint_every": self.checkpoint_every}
        if self.eval_steps is not None:
            args["eval_steps"] = self.eval_steps
        return args


def as_settings(cls: type[T], value: Any, **defaults: Any) -> T:
    """``value`` as a ``cls`` dataclass: an instance as is, a dict's keys, None the defaults.

    ``defaults`` replace the dataclass's own defaults (a task's recipe) where ``value`` is None
    or a dict that leaves a field out.
    """
    if isinstance(value, cls):
        return value
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"expected {cls.__name__} settings (a mapping), "
                         f"got {type(value).__name__}")
    given = dict(value or {})
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(given) - names)
    if unknown:
        raise ValueError(f"{cls.__name__} has no setting {', '.join(unknown)} "
                         f"(it takes {', '.join(sorted(names))})")
    return cls(**{**defaults, **given})
