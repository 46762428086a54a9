"""``initialize``: the first synthetic set, by name (``real``, ``noise``, coresets, graph cut).

Methods live in a registry (``@register_init("name", needs=(...))``); :func:`initialize`
validates the request, runs the method and returns the set grouped by class, with the row
of the real set each sample came from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from beamsim.config import make_generator, resolve_device
from beamsim.distill.coresets import (Selector, herding_select, kcenter_select, per_class_quotas, random_select,
                                     select_per_class)
from beamsim.distill.init.features import embed_batched, last_layer_io
from beamsim.distill.init.graphcut import (DEFAULT_GRAPHCUT_LAMBDA, _check_lambda, graph_cut_select,
                                           last_layer_gradient_similarity, uniform_quantizer)
from beamsim.distill.init.noise import gaussian_per_class
from beamsim.distill.quant import MAX_BITS

__all__ = ["InitMethod", "InitRequest", "initialize", "init_methods", "init_needs", "register_init"]

InitMethod = Literal["real", "noise", "herding", "kcenter", "quant-graphcut"]
Requirement = Literal["model", "bits"]


@dataclass(frozen=True)
class InitRequest:
    """A validated :func:`initialize` call, handed to the method.

    Attributes:
        x: [N, C, H, W] float, the real training set (N >= 1).
        y: [N] int64 labels in ``[0, num_classes)`` (CPU).
        num_classes, spc, replacement, generator, model, bits, graphcut_lambda: as given to
            :func:`initialize` (``generator`` never None here).
        device: where the outputs go and networks run.
    """

    x: torch.Tensor
    y: torch.Tensor
    num_classes: int
    spc: int | tuple[int, ...]
    replacement: bool
    generator: torch.Generator
    model: nn.Module | None
    bits: int | None
    graphcut_lambda: float
    device: torch.device


#: A method returns ``(x_syn [M, ...], y_syn [M] int64, source_index [M] int64)``, grouped by class.
MethodFn = Callable[[InitRequest], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class _Method:
    fn: MethodFn
    needs: tuple[Requirement, ...]


_METHODS: dict[str, _Method] = {}


def register_init(name: str, *, needs: tuple[Requirement, ...] = ()) -> Callable[[MethodFn], MethodFn]:
    """Function decorator: make an initialisation method available to :func:`initialize`.

    Args:
        name: the method's name.
        needs: what the method cannot run without (``"model"``, ``"bits"``); :func:`initialize`
            raises a ``ValueError`` naming the missing argument.
    """

    def decorate(fn: MethodFn) -> MethodFn:
        if name in _METHODS:
            raise ValueError(f"initialisation method {name!r} is already registered")
        _METHODS[name] = _Method(fn, tuple(needs))
        return fn

    return decorate


def init_methods() -> list[str]:
    """The registered method names, sorted.

    >>> init_methods()
    ['herding', 'kcenter', 'noise', 'quant-graphcut', 'real']
    """
    return sorted(_METHODS)


def init_needs(method: str) -> tuple[Requirement, ...]:
    """What ``method`` cannot run without (``"model"``: a network trained on the real data;
    ``"bits"``: the bit width of its quantizer), as declared by :func:`register_init`.

    >>> init_needs("real"), init_needs("quant-graphcut")
    ((), ('model', 'bits'))

    Raises:
        ValueError: unknown method (the message lists the known ones).
    """
    if method not in _METHODS:
        raise ValueError(f"unknown initialisation method {method!r}: known methods are {', '.join(init_methods())}")
    return _METHODS[method].needs


def _rows_of(req: InitRequest, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x_syn = req.x[index.to(req.x.device)].detach().clone().to(req.device)
    return x_syn, req.y[index].to(req.device), index.to(req.device)


def _per_class(req: InitRequest, select: Selector) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    index = select_per_class(req.y, req.num_classes, req.spc, select, replacement=req.replacement,
                             generator=req.generator)
    return _rows_of(req, index)


def _class_x(req: InitRequest, rows: torch.Tensor) -> torch.Tensor:
    return req.x[rows.to(req.x.device)]


@register_init("real")
def _real(req: InitRequest):
    return _per_class(req, lambda rows, k: random_select(rows.numel(), k, generator=req.generator))


@register_init("noise")
def _noise(req: InitRequest):
    x_syn, y_syn = gaussian_per_class(req.x, req.y, req.num_classes, req.spc, generator=req.generator)
    source = torch.full((x_syn.shape[0],), -1, dtype=torch.long, device=req.device)
    return x_syn.to(req.device), y_syn.to(req.device), source


@register_init("herding", needs=("model",))
def _herding(req: InitRequest):
    model = req.model.to(req.device)
    return _per_class(req, lambda rows, k: herding_select(
        embed_batched(model, _class_x(req, rows), device=req.device), k))


@register_init("kcenter", needs=("model",))
def _kcenter(req: InitRequest):
    model = req.model.to(req.device)
    return _per_class(req, lambda rows, k: kcenter_select(
        embed_batched(model, _class_x(req, rows), device=req.device), k))


@register_init("quant-graphcut", needs=("model", "bits"))
def _quant_graphcut(req: InitRequest):
    model = req.model.to(req.device)
    quantizer = uniform_quantizer(req.x, req.bits)

    def select(rows: torch.Tensor, k: int) -> torch.Tensor:
        with torch.no_grad():
            xq = quantizer(_class_x(req, rows).float())
        h, logits = last_layer_io(model, xq, device=req.device)
        similarity = last_layer_gradient_similarity(h, logits, req.y[rows])
        return torch.tensor(graph_cut_select(similarity, k, req.graphcut_lambda), dtype=torch.long)

    return _per_class(req, select)


def _validate(x, y, num_classes, spc, method, model, bits) -> None:
    needs = init_needs(method)
    if not torch.is_tensor(x) or not x.is_floating_point() or x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"x must be a float tensor [N, C, ...] with N >= 1 samples, got "
                         f"{getattr(x, 'dtype', type(x).__name__)} of shape {list(getattr(x, 'shape', []))}")
    if (not torch.is_tensor(y) or y.ndim != 1 or y.shape[0] != x.shape[0] or y.is_floating_point()
            or y.dtype == torch.bool):
        raise ValueError(f"y must be an integer tensor [N] with one label per row of x (N = {x.shape[0]}), "
                         f"got {getattr(y, 'dtype', type(y).__name__)} of shape {list(getattr(y, 'shape', []))}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be an integer >= 1, not {num_classes!r}")
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, found {int(y.min())}..{int(y.max())}")
    per_class_quotas(spc, num_classes)  # an integer >= 1, or one quota per class
    if method == "noise" and not isinstance(spc, int):
        raise ValueError("initialisation 'noise' draws spc samples for every class: use --allocation fixed")
    if "model" in needs and model is None:
        raise ValueError(f"initialisation {method!r} needs model= (a network trained on the real data, e.g. an expert)")
    if "model" in needs and not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, not {type(model).__name__}")
    if "bits" in needs and bits is None:
        raise ValueError(f"initialisation {method!r} needs bits= (the bit width of its uniform quantizer, "
                         f"1..{MAX_BITS})")
    if bits is not None and (isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= MAX_BITS):
        raise ValueError(f"bits must be an integer in 1..{MAX_BITS}, not {bits!r}")


def initialize(x: torch.Tensor, y: torch.Tensor, num_classes: int, spc: int | Sequence[int], method: InitMethod = "real", *,
               replacement: bool = False, generator: torch.Generator | None = None, model: nn.Module | None = None,
               bits: int | None = None, graphcut_lambda: float = DEFAULT_GRAPHCUT_LAMBDA,
               device: str | torch.device | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The initial synthetic set: ``spc`` samples per class, grouped by class.

    Methods (see :func:`init_methods`):

    - ``real``: per class, ``spc`` real samples drawn at random without repetition;
    - ``noise``: per class, ``spc`` Gaussian samples with that class's per-element mean and
      std (global ones for an empty class; see
      :func:`~beamsim.distill.init.noise.gaussian_per_class`); every class gets ``spc``
      rows and ``replacement`` does not apply;
    - ``herding``: per class, herding in the feature space ``embed(model, x)``
      (:func:`~beamsim.distill.coresets.herding_select`); needs ``model``;
    - ``kcenter``: per class, k-center greedy in the same feature space
      (:func:`~beamsim.distill.coresets.kcenter_select`); needs ``model``;
    - ``quant-graphcut``: quantize the real set uniformly at ``bits`` bits (per-feature range
      from the data), then per class greedy graph cut on the cosine similarity of the
      last-layer cross-entropy gradients of ``model`` on the quantized samples
      (:mod:`beamsim.distill.init.graphcut`); needs ``model`` and ``bits``. The rows
      returned are the real (unquantized) samples picked.

    A class with fewer than ``spc`` samples (all methods but ``noise``): **with replacement**
    it gets all its samples and then repeats of them drawn at random (as evenly as possible)
    up to ``spc`` rows; **without replacement** (the default) it keeps just the ones it has,
    so it gets fewer rows, and an empty class gets none.

    Args:
        x: [N, C, H, W] (any per-sample shape) float, the real training set.
        y: [N] integer labels in ``[0, num_classes)``.
        num_classes: C (classes with no samples count too).
        spc: samples per class wanted (>= 1).
        method: the method's name.
        replacement: fill classes smaller than ``spc`` with repeats.
        generator: the only source of randomness (``None``: a generator seeded with the
            config seed, :func:`beamsim.config.make_generator`).
        model: the network whose features (``herding``, ``kcenter``) or last-layer gradients
            (``quant-graphcut``) are used, trained on real data; it is moved to ``device`` and
            run in eval mode (its train/eval mode is restored afterwards).
        bits: bit width of the ``quant-graphcut`` quantizer (1..8).
        graphcut_lambda: lambda of the graph-cut function (>= 0); default 1, the plain cut
            (rationale in :mod:`beamsim.distill.init.graphcut`).
        device: where the outputs go and the model runs (``None``: the config's device).

    Returns:
        ``(x_syn, y_syn, counts, source_index)`` on ``device``:

            - ``x_syn`` [M, C, H, W] with ``x``'s dtype, a new tensor (not a view of ``x``);
            - ``y_syn`` [M] int64, class 0's rows first, then class 1's, ...;
            - ``counts`` [num_classes] int64, rows per class (sums to M);
            - ``source_index`` [M] int64, the row of ``x`` each sample is a copy of, -1 for
              ``noise``; within a class, rows are in the order the method chose them.

    Raises:
        ValueError: ``spc < 1``, an unknown method (the message lists the known ones), a
            method that needs ``model`` or ``bits`` called without it, inconsistent ``x`` /
            ``y`` / ``num_classes``, a negative graph-cut lambda.
    """
    _validate(x, y, num_classes, spc, method, model, bits)
    request = InitRequest(
        x=x.detach(), y=y.detach().cpu().long(), num_classes=num_classes,
        spc=spc if isinstance(spc, int) else tuple(spc), replacement=bool(replacement),
        generator=make_generator() if generator is None else generator, model=model, bits=bits,
        graphcut_lambda=_check_lambda(graphcut_lambda), device=resolve_device(device))
    x_syn, y_syn, source = _METHODS[method].fn(request)
    counts = torch.bincount(y_syn.cpu(), minlength=num_classes).to(request.device)
    return x_syn, y_syn.long(), counts.long(), source.long()
