"""Micro-benchmarks of the distillation building blocks (``beamsim bench quant``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from beamsim.config import make_generator, resolve_device
from beamsim.distill.quant import build_quantizer

__all__ = ["bench_quant"]


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
