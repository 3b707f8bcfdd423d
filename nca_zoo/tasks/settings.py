"""Settings that several tasks share, grouped in dataclasses (mappings in YAML).

:class:`Rollout` is how a task runs its NCA: the automaton's step counts, update rate and
checkpointed BPTT.  Tasks read their settings with :meth:`~nca_zoo.tasks.base.BaseTask.settings`
(:func:`~nca_zoo.layers.settings.as_settings`) and keep plain dicts in their hyper-parameters, so
a checkpoint reloads without importing the dataclasses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union


@dataclass
class Rollout:
    """How the NCA runs (:class:`~nca_zoo.automaton.Automaton`; docs/paper-to-code.md §1).

    ``steps``: an int, or ``[low, high]`` drawn per rollout in training; ``eval_steps``: the step
    count in eval mode (None: ``steps``, or its upper end); ``update_rate``: probability that a
    cell updates in a step (1.0 = synchronous); ``checkpoint_every``: checkpointed BPTT segment
    length (0 = plain BPTT; it changes memory, never gradients).

    Each task has its own defaults (e.g. ViTCA's update rate 0.5), used for the fields a dict
    leaves out; a YAML mapping is built into a ``Rollout`` by the CLI with this class's defaults,
    so the configs write every field.
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
