"""Micro-benchmarks of the distillation building blocks (``beamsim bench quant``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from beamsim.config import make_generator, resolve_device
from beamsim.distill.quant import build_quantizer

__all__ = ["bench_quant", "bench_distill", "count_iteration_flops"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_ms(step: Callable[[], None], device: torch.device, repeats: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        step()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        _sync(device)
        times.append((time.perf_counter() - start) * 1e3)
    return times


def bench_quant(device: str | torch.device | None = None, repeats: int = 20, warmup: int = 3,
                shape: tuple[int, ...] = (3200, 1, 8, 8), bits: int = 6, quantizer: str = "apot",
                threads: int | None = None, generator: torch.Generator | None = None) -> dict:
    """Forward + backward time of a quantizer against a plain identity pass, in one run.

    Both passes use the same input tensor and the same loss (a weighted sum of the output),
    so the difference is the quantizer's own cost. Warm-up passes come first; the reported
    time is the median of ``repeats`` timed passes.

    Args:
        device: ``"auto" | "cpu" | "cuda"`` or None (the config default).
        repeats: timed passes per variant (>= 1).
        warmup: untimed passes per variant first.
        shape: input shape; the beam default is a set of 3200 [1, 8, 8] maps.
        bits: quantizer bits.
        quantizer: registry name (``"apot"`` by default).
        threads: CPU threads for torch during the run (restored afterwards); None keeps the
            current setting. One thread avoids scheduler noise on a busy machine.
        generator: source of the random input (a fresh seeded one when None).

    Returns:
        dict with ``quantizer``, ``bits``, ``shape``, ``device``, ``repeats``, ``threads``
        (CPU threads of torch), ``quant_ms`` and ``identity_ms`` (medians, milliseconds),
        ``quant_min_ms``, ``identity_min_ms`` and ``ratio`` (quant / identity medians).
    """
    if int(repeats) < 1 or int(warmup) < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    if threads is not None and int(threads) < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        return _bench_quant(device, int(repeats), int(warmup), tuple(shape), int(bits), quantizer, generator)
    finally:
        torch.set_num_threads(before)


def _bench_quant(device: str | torch.device | None, repeats: int, warmup: int, shape: tuple[int, ...], bits: int,
                 quantizer: str, generator: torch.Generator | None) -> dict:
    dev = resolve_device(device)
    gen = generator if generator is not None else make_generator(0, "cpu")
    x0 = torch.rand(shape, generator=gen, device=gen.device).to(dev)
    weight = torch.rand(shape, generator=gen, device=gen.device).to(dev)
    q = build_quantizer(quantizer, bits=bits).to(dev)
    q.initialize(x0)
    x = x0.clone().requires_grad_(True)

    def quant_step() -> None:
        x.grad = None
        q.zero_grad(set_to_none=True)
        (q(x) * weight).sum().backward()

    def identity_step() -> None:
        x.grad = None
        (x * weight).sum().backward()

    quant = _time_ms(quant_step, dev, repeats, warmup)
    ident = _time_ms(identity_step, dev, repeats, warmup)
    quant_ms, ident_ms = statistics.median(quant), statistics.median(ident)
    return {
        "quantizer": quantizer,
        "bits": int(bits),
        "shape": list(shape),
        "device": str(dev),
        "repeats": int(repeats),
        "threads": torch.get_num_threads(),
        "quant_ms": quant_ms,
        "identity_ms": ident_ms,
        "quant_min_ms": min(quant),
        "identity_min_ms": min(ident),
        "ratio": quant_ms / ident_ms if ident_ms > 0 else float("inf"),
    }


#: ``bench distill --param`` names -> the settings of that variant beside QuADD's.
PARAM_VARIANTS = ("fred", "qfred", "palette")


def _param_variant(base, name: str, quantizer: str, bits: int):
    """The config of a parameterized variant: FreD float32, QuADD + FreD, AutoPalette."""
    if name not in PARAM_VARIANTS:
        raise ValueError(f"unknown --param {name!r} for bench distill: use one of {', '.join(PARAM_VARIANTS)}")
    if name == "qfred":
        return base.replace(quantizer=quantizer, bits=bits, param="fred")
    return base.replace(quantizer="none", bits=32, param="palette" if name == "palette" else "fred")


def bench_distill(train, *, objective: str = "tm", iterations: int = 10, bits: int = 6, quantizer: str = "apot",
                  repeats: int = 2, device: str | torch.device | None = None, seed: int = 0, cache_dir=None,
                  config=None, params: tuple[str, ...] = ()) -> dict:
    """Time per distillation iteration with the quantizer in the loop vs the same run unquantized.

    Both variants share every setting (objective, spc, model, experts, batches) except the
    quantizer; experts are trained (or loaded from the cache) before timing. The variants run
    alternately ``repeats`` times; the median seconds per iteration over all their iterations
    is reported, with ``ratio = quantized / unquantized`` (target <= 1.05), the floating-point
    operations of one quantized iteration (:func:`count_iteration_flops`) and the rate they were
    done at. Each of ``params`` (``fred``: FreD, float32 coefficients; ``qfred``: QuADD + FreD;
    ``palette``: AutoPalette) adds a variant timed in the same alternation, reported as
    ``seconds_per_iteration_<name>`` and ``ratio_<name>`` (against the quantized QuADD run).

    Args:
        train: labelled data (see :func:`beamsim.distill.tensors.as_tensors`).
        config: a :class:`~beamsim.distill.config.DistillConfig` (default: the beam defaults).
    """
    import resource

    from beamsim.distill.config import default_config
    from beamsim.distill.quadd import QuADD

    dev = resolve_device(device)
    base = (config or default_config("beam", objective=objective)).replace(objective=objective, iterations=iterations, val_fraction=0.0,
                                                      checkpoint_every=0)
    variants = {"quantized": base.replace(quantizer=quantizer, bits=bits),
                "unquantized": base.replace(quantizer="none", bits=32),
                **{name: _param_variant(base, name, quantizer, bits) for name in params}}
    QuADD(variants["unquantized"].replace(iterations=1), device=dev, seed=seed, cache_dir=cache_dir).fit(train)
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    peak_cuda: dict[str, float] = {}
    for _ in range(repeats):
        for name, cfg in variants.items():
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            run = QuADD(cfg, device=dev, seed=seed, cache_dir=cache_dir).fit(train)
            seconds[name] += [row["seconds"] for row in run.history_]
            if dev.type == "cuda":
                peak_cuda[name] = max(peak_cuda.get(name, 0.0), torch.cuda.max_memory_allocated(dev) / 2**20)
    med = {name: statistics.median(values) for name, values in seconds.items()}
    flops = count_iteration_flops(train, variants["quantized"], dev, seed, cache_dir)
    doc = {
        "benchmark": "distill",
        "objective": objective,
        "quantizer": quantizer,
        "bits": bits,
        "spc": base.spc,
        "iterations_timed": {name: len(v) for name, v in seconds.items()},
        "seconds_per_iteration_quantized": round(med["quantized"], 4),
        "seconds_per_iteration_unquantized": round(med["unquantized"], 4),
        "ratio": round(med["quantized"] / med["unquantized"], 4),
        "target_ratio": 1.05,
        **{f"seconds_per_iteration_{name}": round(med[name], 4) for name in params},
        **{f"ratio_{name}": round(med[name] / med["quantized"], 4) for name in params},
        "gflop_per_iteration": round(flops / 1e9, 3),
        "achieved_gflop_per_s": round(flops / 1e9 / med["quantized"], 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "device": str(dev),
        "threads": torch.get_num_threads(),
    }
    if peak_cuda:
        doc["peak_cuda_mb"] = {k: round(v, 1) for k, v in peak_cuda.items()}
    return doc


def count_iteration_flops(train, config, device: torch.device, seed: int = 0, cache_dir=None) -> float:
    """Floating-point operations of one distillation iteration of ``config`` (quantizer,
    objective, unrolled student steps and their backward pass), counted by
    :class:`torch.utils.flop_counter.FlopCounterMode` (matrix products and convolutions, the
    bulk of the work; element-wise operations are not counted).

    A run of one iteration warms the expert cache; then runs of two iterations and of one are
    counted and their difference is the second iteration, without the set-up of a run.
    """
    from torch.utils.flop_counter import FlopCounterMode

    from beamsim.distill.quadd import QuADD

    QuADD(config.replace(iterations=1), device=device, seed=seed, cache_dir=cache_dir).fit(train)
    totals = []
    for iterations in (2, 1):
        counter = FlopCounterMode(display=False)
        with counter:
            QuADD(config.replace(iterations=iterations), device=device, seed=seed, cache_dir=cache_dir).fit(train)
        totals.append(counter.get_total_flops())
    return float(totals[0] - totals[1])
