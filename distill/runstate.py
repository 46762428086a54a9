"""The state of a distillation run: one object, saved and loaded by the same class.

:class:`RunState` holds everything an interrupted run needs to continue as if it had not
stopped: the iteration, the synthetic set and its optimiser, the run's generator, the
quantizer (thresholds, optimiser, noise generator), the objective's own state, the history,
the validation scores and the best set so far. :meth:`RunState.state_dict` writes the
checkpoint entries and :meth:`RunState.load_state_dict` reads the same ones back;
:meth:`~RunState.save` / :meth:`~RunState.load` put them in a file (atomically;
``torch.load(..., weights_only=True)``).

Checkpoint entries (the layout of beamsim 0.1, unchanged; checkpoints of 0.1 resume):

=========================  ==================================================================
``fingerprint``            :func:`run_fingerprint` of the settings, seed and data
``iteration``              iterations done
``syn``                    S [M, C, H, W] float32 (a latent for FSQ)
``opt_syn``                SGD state of S
``generator``              state of the run's generator
``history_keys``           sorted keys of the history records
``history``                [iterations, keys] float64, NaN where a record lacks a key
``validation``             [validations, 2] float64: (iteration, accuracy)
``best_iteration``         iteration of the best validation (0: none yet)
``best_accuracy``          its accuracy (-1: none yet)
``best_syn``               S at that iteration
``quantizer``              quantizer ``state_dict`` (in-loop quantizers only)
``best_quantizer``         its ``state_dict`` at the best iteration
``quantizer_generator``    state of the quantizer's noise generator
``opt_alpha``              Adam state of the thresholds (when they are learned)
``param``, ``best_param``  the parameterization's state, now and at the best iteration (with one)
``opt_param``              its optimiser's state
``labels``, ``best_labels`` the soft labels' logits, now and at the best iteration (with soft labels)
``opt_labels``             their optimiser's state
objective entries          :meth:`Objective.state_dict <beamsim.distill.objectives.Objective.state_dict>`
                           (trajectory matching: ``syn_lr``, ``opt_lr``)
=========================  ==================================================================
"""

from __future__ import annotations

import copy
import hashlib
import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from beamsim.errors import DataFileError
from beamsim.fileio import atomic_path

if TYPE_CHECKING:
    from beamsim.distill.config import DistillConfig
    from beamsim.distill.objectives import Objective

__all__ = ["RunState", "Best", "CheckpointMismatchError", "data_key", "run_fingerprint", "checkpoint_fingerprint",
           "checkpoint_iteration"]

#: The entries the run itself writes; every other entry of a checkpoint is the objective's.
RUN_KEYS = ("fingerprint", "iteration", "syn", "opt_syn", "generator", "history_keys", "history", "validation",
            "best_iteration", "best_accuracy", "best_syn", "quantizer", "best_quantizer", "quantizer_generator",
            "opt_alpha", "param", "best_param", "opt_param", "labels", "best_labels", "opt_labels")


class CheckpointMismatchError(ValueError):
    """A checkpoint was written by a run with other settings or other data."""


def data_key(x: torch.Tensor, y: torch.Tensor) -> str:
    """32 hex digits identifying the training data exactly (shape and bytes of ``x``, ``y``)."""
    digest = hashlib.sha256()
    digest.update(str(list(x.shape)).encode())
    digest.update(x.detach().cpu().contiguous().numpy().tobytes())
    digest.update(y.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def run_fingerprint(config: "DistillConfig", seed: int, key: str) -> str:
    """Hex sha256 of everything that makes a checkpoint's run: the settings (the number of
    iterations and the checkpoint interval left out, so a run may be extended), the seed, the
    data key and, for an in-loop quantizer whose version is above 1, that version."""
    from beamsim.distill.quant import quantizer_class

    text = config.replace(iterations=1, checkpoint_every=1).to_toml() + f"seed={seed};data={key}"
    if config.quantized_in_loop and quantizer_class(config.quantizer.name).version != 1:
        text += f";quantizer_version={quantizer_class(config.quantizer.name).version}"
    return hashlib.sha256(text.encode()).hexdigest()


def _read(path: str | Path) -> dict[str, Any]:
    """The checkpoint's entries; ``weights_only=True``, so no code in the file can run.

    Raises:
        DataFileError: the file holds a pickle of other objects than tensors and plain values
            (one that would run code), or is corrupt, truncated or not a checkpoint.
    """
    fix = "delete it or run without --resume"
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # what weights_only refuses: globals, reducers (no code ran)
        raise DataFileError(f"checkpoint {path}: holds objects other than tensors and plain values (a pickle "
                            f"that could run code); it was not loaded and nothing in it ran; {fix}") from None
    except (RuntimeError, EOFError, ValueError, OSError, KeyError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise DataFileError(f"checkpoint {path}: unreadable (corrupt, truncated or not a beamsim checkpoint: "
                            f"{' '.join(str(exc).split())[:160]}); {fix}") from None
    if not isinstance(record, dict):
        raise DataFileError(f"checkpoint {path}: holds a {type(record).__name__}, not a beamsim checkpoint; {fix}")
    return record


def checkpoint_fingerprint(path: str | Path) -> str | None:
    """The fingerprint recorded in the checkpoint at ``path`` (None when it has none)."""
    return _read(path).get("fingerprint")


def checkpoint_iteration(path: str | Path) -> int:
    """The iterations done when the checkpoint at ``path`` was written.

    Raises:
        DataFileError: what reading it raises, or an ``iteration`` entry that is not a
            non-negative integer.
    """
    iteration = _read(path).get("iteration")
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise DataFileError(f"checkpoint {path}: its iteration entry is {str(iteration)[:40]!r}, not a count; "
                            "delete it or run without --resume")
    return iteration


@dataclass
class Best:
    """The best validated set so far.

    Attributes:
        iteration: iterations done when it was scored (0: not validated yet).
        accuracy: its validation accuracy (-1: not validated yet).
        syn: S at that iteration.
        quantizer: the quantizer's ``state_dict`` then (None without a quantizer).
        param: the parameterization's ``state_dict`` then (None without one).
        labels: the soft labels' ``state_dict`` then (None without soft labels).
    """

    iteration: int
    accuracy: float
    syn: torch.Tensor
    quantizer: dict[str, torch.Tensor] | None
    param: dict[str, torch.Tensor] | None = None
    labels: dict[str, torch.Tensor] | None = None

    @classmethod
    def of(cls, iteration: int, accuracy: float, syn: torch.Tensor, quantizer: nn.Module | None,
           param: nn.Module | None = None, labels: nn.Module | None = None) -> "Best":
        """A copy of the current S and the quantizer, parameterization and label states, scored
        ``accuracy`` at ``iteration``."""
        state, own, soft = (copy.deepcopy(m.state_dict()) if m is not None else None for m in (quantizer, param, labels))
        return cls(iteration, accuracy, syn.detach().clone(), state, own, soft)


@dataclass(eq=False)
class RunState:
    """The live state of a run (see the module docstring); the loop updates it in place.

    Attributes:
        fingerprint: :func:`run_fingerprint` of the run; a checkpoint with another is refused.
        syn: S, the optimised synthetic set (``nn.Parameter`` [M, C, H, W] float32).
        opt_syn: the optimiser of ``syn``.
        generator: the run's CPU generator (hold-out, initialisation, every objective draw).
        quantizer: the in-loop quantizer, or None.
        opt_alpha: the optimiser of its thresholds, or None.
        objective: the objective (its entries go into the checkpoint), or None.
        param: the parameterization (:mod:`beamsim.distill.param`), or None.
        opt_param: the optimiser of its learnable parts, or None.
        labels: the soft labels (:class:`beamsim.distill.run_labels.LearnedLabels`), or None.
        opt_labels: their optimiser, or None.
        iteration: iterations done.
        history: one record per iteration.
        validation: (iteration, accuracy) of every validation.
        best: the best validated set (starts as the initial set, unscored).
    """

    fingerprint: str
    syn: nn.Parameter
    opt_syn: torch.optim.Optimizer
    generator: torch.Generator
    quantizer: nn.Module | None = None
    opt_alpha: torch.optim.Optimizer | None = None
    objective: "Objective | None" = None
    param: nn.Module | None = None
    opt_param: torch.optim.Optimizer | None = None
    labels: nn.Module | None = None
    opt_labels: torch.optim.Optimizer | None = None
    iteration: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    validation: list[tuple[int, float]] = field(default_factory=list)
    best: Best | None = None

    def __post_init__(self) -> None:
        if self.best is None:
            self.best = Best.of(0, -1.0, self.syn, self.quantizer, self.param, self.labels)

    # -- the checkpoint entries: written here ... -------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The checkpoint entries (tensors share storage with the live state)."""
        keys = sorted({k for row in self.history for k in row})
        table = torch.tensor([[float(row.get(k, math.nan)) for k in keys] for row in self.history],
                             dtype=torch.float64)
        best = self.best
        state: dict[str, Any] = {
            "fingerprint": self.fingerprint, "iteration": self.iteration, "syn": self.syn.detach(),
            "opt_syn": self.opt_syn.state_dict(), "generator": self.generator.get_state(),
            "history_keys": keys, "history": table,
            "validation": torch.tensor(self.validation, dtype=torch.float64).reshape(-1, 2),
            "best_iteration": best.iteration, "best_accuracy": best.accuracy, "best_syn": best.syn,
        }
        if self.quantizer is not None:
            state["quantizer"] = self.quantizer.state_dict()
            state["best_quantizer"] = best.quantizer
            if isinstance(self.quantizer.generator, torch.Generator):
                state["quantizer_generator"] = self.quantizer.generator.get_state()
        if self.opt_alpha is not None:
            state["opt_alpha"] = self.opt_alpha.state_dict()
        if self.param is not None:
            state["param"] = self.param.state_dict()
            state["best_param"] = best.param
        if self.opt_param is not None:
            state["opt_param"] = self.opt_param.state_dict()
        if self.labels is not None:
            state["labels"], state["best_labels"] = self.labels.state_dict(), best.labels
            state["opt_labels"] = self.opt_labels.state_dict()
        if self.objective is not None:
            own = self.objective.state_dict()
            clash = sorted(set(own) & set(RUN_KEYS))
            if clash:
                raise ValueError(f"objective {self.objective.name!r} writes checkpoint entries the run owns: "
                                 f"{', '.join(clash)}; rename them")
            state.update(own)
        return state

    # -- ... and read back here ---------------------------------------------------------------------
    def load_state_dict(self, state: dict[str, Any]) -> "RunState":
        """Restore :meth:`state_dict`'s entries into the live state; returns ``self``.

        Raises:
            CheckpointMismatchError: the entries were written by a run with another fingerprint.
        """
        if state.get("fingerprint") != self.fingerprint:
            raise CheckpointMismatchError("the checkpoint was written with other settings or other data")
        with torch.no_grad():
            self.syn.copy_(state["syn"])
        self.opt_syn.load_state_dict(state["opt_syn"])
        self.generator.set_state(state["generator"])
        if self.quantizer is not None:
            self.quantizer.load_state_dict(state["quantizer"])
            if isinstance(self.quantizer.generator, torch.Generator) and "quantizer_generator" in state:
                self.quantizer.generator.set_state(state["quantizer_generator"])
        if self.opt_alpha is not None:
            self.opt_alpha.load_state_dict(state["opt_alpha"])
        if self.param is not None:
            self.param.load_state_dict(state["param"])
        if self.opt_param is not None:
            self.opt_param.load_state_dict(state["opt_param"])
        if self.labels is not None:
            self.labels.load_state_dict(state["labels"])
            self.opt_labels.load_state_dict(state["opt_labels"])
        if self.objective is not None:
            self.objective.load_state_dict({k: v for k, v in state.items() if k not in RUN_KEYS})
        self.history = [dict(zip(state["history_keys"], row)) for row in state["history"].tolist()]
        self.validation = [(int(i), float(a)) for i, a in state["validation"].tolist()]
        self.best = Best(int(state["best_iteration"]), float(state["best_accuracy"]), state["best_syn"],
                         state.get("best_quantizer"), state.get("best_param"), state.get("best_labels"))
        self.iteration = int(state["iteration"])
        return self

    # -- files --------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write :meth:`state_dict` to ``path`` atomically (a reader never sees half a file)."""
        with atomic_path(path, suffix=".pt.tmp") as tmp:
            torch.save(self.state_dict(), tmp)
        return Path(path)

    def load(self, path: str | Path) -> "RunState":
        """Restore the checkpoint at ``path`` (see :meth:`load_state_dict`); returns ``self``.

        Raises:
            CheckpointMismatchError: it was written with other settings or other data (the
                message names the file).
        """
        try:
            return self.load_state_dict(_read(path))
        except CheckpointMismatchError:
            raise CheckpointMismatchError(
                f"checkpoint {path} was written with other settings or other data; "
                "delete it or run without --resume") from None
