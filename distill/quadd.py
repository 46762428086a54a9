"""QuADD: quantization-aware dataset distillation, as a scikit-learn-style estimator.

``QuADD(config).fit(train)`` learns a synthetic set S (``spc`` samples per class) and the
thresholds of a quantizer Q together: every iteration computes the distillation loss on
Q(S), and the gradient reaches both S (straight through the rounding) and Q's thresholds.

Loop, per iteration ``t``::

    x_q  = Q(S)                       (S itself for --quantizer ptq/none)
    loss = objective(x_q, real data)  (tm: trajectory matching, dm: distribution matching,
                                       dc: gradient matching; none: no loop)
    S      <- SGD step (momentum), gradient norm clipped when clip_grad > 0
    alpha  <- Adam step (its own learning rate)
    S      <- constant features reset, values clamped to the real data's range

Every ``val_every`` iterations a small model is trained on the current Q(S) and scored on a
held-out part of the training split (never the test split); the set that scores best is kept.
Checkpoints every ``checkpoint_every`` iterations make a run resumable; a resumed run gives
the same result as an uninterrupted one.

Images (``default_config("image")``, data from :mod:`beamsim.distill.data`) use the same loop
with ``dsa = true``: the DM/DC losses see the real and synthetic batches through one siamese
DSA draw, every unrolled TM student step sees a fresh DSA draw, and the experts and the
validation model train on DSA-augmented batches (all drawn from the run's generators).
Beam maps are never augmented.

Results (after ``fit``): ``synthetic_`` (decoded Q(S), what a model trains on), ``labels_``,
``counts_``, ``quantizer_``, ``raw_`` (S before quantization), ``history_`` (one dict per
iteration), ``validation_`` (iteration, accuracy), ``best_iteration_``, ``timings_``.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from beamsim.config import derive_seed, resolve_device
from beamsim.distill.config import DistillConfig, default_config
from beamsim.fileio import atomic_path

if TYPE_CHECKING:
    from beamsim.distill.data.augment import DSA

__all__ = ["QuADD", "as_tensors", "CheckpointMismatchError"]

#: ``progress(iteration, total, info)`` after each iteration.
Progress = Callable[[int, int, dict], None]


class CheckpointMismatchError(ValueError):
    """A checkpoint was written by a run with other settings or other data."""


def as_tensors(train: Any) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``(x [N, ...] float32, y [N] int64, num_classes)`` from a labelled data set.

    Accepts an ``(x, y)`` tuple, an object with ``inputs``/``labels`` (``beamsim.BeamDataset``)
    or ``tensors()``, or any map-style ``Dataset`` of (x, y) pairs.
    """
    num_classes = getattr(train, "num_classes", None)
    if isinstance(train, (tuple, list)) and len(train) == 2:
        x, y = train
    elif hasattr(train, "inputs") and hasattr(train, "labels"):
        x, y = train.inputs, train.labels
    elif hasattr(train, "tensors") and callable(train.tensors):
        x, y = train.tensors()
    elif hasattr(train, "__getitem__") and hasattr(train, "__len__"):
        pairs = [train[i] for i in range(len(train))]
        x = torch.stack([torch.as_tensor(p[0]) for p in pairs])
        y = torch.as_tensor([int(p[1]) for p in pairs])
    else:
        raise TypeError("train must be (x, y), a BeamDataset or a Dataset of (x, y) pairs")
    x = torch.as_tensor(x).float()
    y = torch.as_tensor(y).long()
    if x.ndim < 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"training data must be x [N, ...] and y [N]; got {list(x.shape)} and {list(y.shape)}")
    if x.shape[0] == 0:
        raise ValueError("the training data is empty")
    if not torch.isfinite(x).all():
        raise ValueError("the training inputs contain NaN or infinite values")
    if int(y.min()) < 0:
        raise ValueError("labels must be >= 0")
    num_classes = int(num_classes) if num_classes is not None else int(y.max()) + 1
    if int(y.max()) >= num_classes:
        raise ValueError(f"labels reach {int(y.max())} but there are only {num_classes} classes")
    return x, y, num_classes


def _data_key(x: torch.Tensor, y: torch.Tensor) -> str:
    digest = hashlib.sha256()
    digest.update(str(list(x.shape)).encode())
    digest.update(x.detach().cpu().contiguous().numpy().tobytes())
    digest.update(y.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def _stratified_holdout(y: torch.Tensor, num_classes: int, fraction: float,
                        generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, validation): ``floor(fraction * n_c)`` samples of each class held out."""
    keep, held = [], []
    for c in range(num_classes):
        idx = torch.nonzero(y == c).view(-1)
        idx = idx[torch.randperm(idx.numel(), generator=generator)]
        k = int(math.floor(fraction * idx.numel()))
        held.append(idx[:k])
        keep.append(idx[k:])
    return torch.cat(keep).sort().values, torch.cat(held).sort().values


class QuADD:
    """Quantization-aware dataset distillation.

    Args:
        config: the run's settings (default: the beam defaults, ``default_config("beam")``).
        device: ``auto | cpu | cuda`` or a ``torch.device``.
        seed: every random choice of the run derives from it (same seed, same bytes).
        cache_dir: where expert trajectories are cached (default ``~/.cache/beamsim/experts``).
        checkpoint_path: checkpoint file (None: no checkpoints).
        progress: called after each iteration with (iteration, total, info).
    """

    def __init__(self, config: DistillConfig | None = None, *, device: str | torch.device | None = None,
                 seed: int = 0, cache_dir: str | Path | None = None, checkpoint_path: str | Path | None = None,
                 progress: Progress | None = None) -> None:
        self.config = config if config is not None else default_config("beam")
        self.device = device
        self.seed = int(seed)
        self.cache_dir = cache_dir
        self.checkpoint_path = checkpoint_path
        self.progress = progress

    # ------------------------------------------------------------------ set-up
    def _model(self, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        from beamsim.models import get_model

        return get_model(self.config.model, in_shape[0], num_classes, tuple(in_shape[1:]))

    def _fresh_model(self, in_shape, num_classes, generator: torch.Generator) -> nn.Module:
        from beamsim.models import reset_parameters

        model = self._model(in_shape, num_classes)
        reset_parameters(model, generator)
        return model.to(self._device)

    def _experts(self, x: torch.Tensor, y: torch.Tensor, num_classes: int, num: int | None = None):
        from beamsim.distill.experts import ExpertSettings, train_experts

        cfg = self.config
        settings = ExpertSettings(model=cfg.model, num_experts=num or cfg.num_experts, epochs=cfg.expert_epochs_train,
                                  lr=cfg.expert_lr, momentum=cfg.expert_momentum, batch_size=cfg.expert_batch,
                                  augment=f"dsa:{cfg.dsa_strategy}" if cfg.dsa else "none")
        cache = Path(self.cache_dir) if self.cache_dir is not None else Path.home() / ".cache" / "beamsim" / "experts"
        start = time.perf_counter()
        trajectories = train_experts(x, y, num_classes, settings, cache_dir=cache, data_key=self._key,
                                     device=self._device, seed=self.seed)
        self.timings_["experts_s"] = self.timings_.get("experts_s", 0.0) + time.perf_counter() - start
        return trajectories

    def _feature_model(self, x, y, num_classes) -> nn.Module:
        """A network trained on the real data (an expert's last epoch), for herding/k-center/graph-cut."""
        from beamsim.distill.params import unflatten_params

        trajectory = self._experts(x, y, num_classes, num=1)[0]
        model = self._model(tuple(x.shape[1:]), num_classes).to(self._device)
        with torch.no_grad():
            for name, value in unflatten_params(model, trajectory[-1].to(self._device)).items():
                model.get_parameter(name).copy_(value)
        return model.eval()

    def _build_quantizer(self, x_init: torch.Tensor):
        from beamsim.distill.quant import build_quantizer

        cfg = self.config
        if not cfg.quantized_in_loop:
            return None
        kwargs: dict[str, Any] = {"bits": cfg.bits}
        if cfg.quantizer in ("apot", "uniform"):
            kwargs.update(granularity=cfg.granularity, percentile=cfg.percentile, normalize=cfg.normalize)
        gen = torch.Generator(device="cpu").manual_seed(derive_seed(self.seed, "quantizer"))
        q = build_quantizer(cfg.quantizer, generator=gen, **kwargs).to(self._device)
        q.initialize(x_init.detach())
        return q

    def check_resume(self, train: Any) -> bool:
        """Whether :meth:`fit` with ``resume=True`` would continue a checkpoint (False: none).

        Raises:
            CheckpointMismatchError: the checkpoint was written with other settings or data.
        """
        if self.checkpoint_path is None or not Path(self.checkpoint_path).exists():
            return False
        x_all, y_all, _ = as_tensors(train)
        self._key = _data_key(x_all, y_all)
        state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        if state.get("fingerprint") != self._fingerprint():
            raise CheckpointMismatchError(
                f"checkpoint {self.checkpoint_path} was written with other settings or other data; "
                "delete it or run without --resume")
        return True

    # ------------------------------------------------------------------ fit
    def fit(self, train: Any, *, resume: bool = False) -> "QuADD":
        """Distil ``train`` (see :func:`as_tensors` for accepted forms). Returns ``self``."""
        from beamsim.distill.constant import apply_constant, constant_feature_mask
        from beamsim.distill.init import initialize

        cfg = self.config
        self._device = resolve_device(self.device)
        self.timings_: dict[str, float] = {}
        t_start = time.perf_counter()
        x_all, y_all, num_classes = as_tensors(train)
        self._key = _data_key(x_all, y_all)
        self.num_classes_ = num_classes
        self.input_shape_ = tuple(x_all.shape[1:])
        gen = torch.Generator().manual_seed(derive_seed(self.seed, "quadd"))

        # held-out validation part of the training split
        if cfg.val_fraction > 0 and cfg.objective != "none":
            tr_idx, val_idx = _stratified_holdout(y_all, num_classes, cfg.val_fraction, gen)
        else:
            tr_idx, val_idx = torch.arange(len(y_all)), torch.arange(0)
        x, y = x_all[tr_idx].to(self._device), y_all[tr_idx].to(self._device)
        x_val, y_val = x_all[val_idx].to(self._device), y_all[val_idx].to(self._device)
        self._val = (x_val, y_val)

        # constant features and value range of the real data
        if cfg.keep_constant:
            const_mask, const_values = constant_feature_mask(x)
        else:
            const_mask = const_values = None
        lo, hi = float(x.min()), float(x.max())

        # initialisation
        needs_model = cfg.init in ("herding", "kcenter", "quant-graphcut")
        model = self._feature_model(x, y, num_classes) if needs_model else None
        t0 = time.perf_counter()
        x_syn, y_syn, counts, source_index = initialize(
            x, y, num_classes, cfg.spc, cfg.init, replacement=cfg.replacement, generator=gen, model=model,
            bits=cfg.bits if cfg.bits <= 8 else 8, graphcut_lambda=cfg.graphcut_lambda, device=self._device)
        self.timings_["init_s"] = time.perf_counter() - t0
        x_syn = x_syn.to(self._device)
        y_syn = y_syn.to(self._device)
        if const_mask is not None:
            x_syn = apply_constant(x_syn, const_mask, const_values)
        self.labels_ = y_syn
        self.counts_ = counts
        self.source_index_ = source_index

        syn = nn.Parameter(x_syn.clone())
        quantizer = self._build_quantizer(syn)
        # a latent-input quantizer (FSQ) is optimised behind its bound: the latent of the data
        latent = quantizer is not None and quantizer.latent_input
        const_fill = const_values
        if latent:
            with torch.no_grad():
                syn.copy_(quantizer.to_latent(syn))
            if const_mask is not None:
                const_fill = quantizer.to_latent(const_values)
        opt_syn = torch.optim.SGD([syn], lr=cfg.lr_syn, momentum=cfg.momentum_syn)
        alpha_params = [p for p in quantizer.parameters() if p.requires_grad] if quantizer is not None else []
        opt_alpha = torch.optim.Adam(alpha_params, lr=cfg.lr_alpha) if alpha_params and cfg.lr_alpha > 0 else None
        syn_lr = torch.tensor(cfg.syn_lr_init, device=self._device, requires_grad=True)
        opt_lr = torch.optim.SGD([syn_lr], lr=cfg.lr_lr, momentum=0.5) if cfg.lr_lr > 0 else None
        alpha0 = self._alpha(quantizer)

        experts = None
        if cfg.objective == "tm" and cfg.iterations > 0:
            experts = self._experts(x, y, num_classes)
            self._student = self._model(self.input_shape_, num_classes).to(self._device)

        history: list[dict] = []
        validation: list[tuple[int, float]] = []
        best = {"iteration": 0, "accuracy": -1.0, "syn": syn.detach().clone(),
                "quantizer": copy.deepcopy(quantizer.state_dict()) if quantizer is not None else None}
        start_it = 0
        fingerprint = self._fingerprint()
        if resume and self.checkpoint_path is not None and Path(self.checkpoint_path).exists():
            state = torch.load(self.checkpoint_path, map_location=self._device, weights_only=True)
            if state["fingerprint"] != fingerprint:
                raise CheckpointMismatchError(
                    f"checkpoint {self.checkpoint_path} was written with other settings or other data; "
                    "delete it or run without --resume")
            with torch.no_grad():
                syn.copy_(state["syn"])
                syn_lr.copy_(state["syn_lr"])
            opt_syn.load_state_dict(state["opt_syn"])
            if quantizer is not None:
                quantizer.load_state_dict(state["quantizer"])
            if opt_alpha is not None:
                opt_alpha.load_state_dict(state["opt_alpha"])
            if opt_lr is not None:
                opt_lr.load_state_dict(state["opt_lr"])
            gen.set_state(state["generator"])
            if quantizer is not None and hasattr(quantizer, "generator") and "quantizer_generator" in state:
                quantizer.generator.set_state(state["quantizer_generator"])
            history = [dict(zip(state["history_keys"], row)) for row in state["history"].tolist()]
            validation = [(int(i), float(a)) for i, a in state["validation"].tolist()]
            best = {"iteration": int(state["best_iteration"]), "accuracy": float(state["best_accuracy"]),
                    "syn": state["best_syn"], "quantizer": state.get("best_quantizer")}
            start_it = int(state["iteration"])

        loop_start = time.perf_counter()
        for it in range(start_it, cfg.iterations):
            t_it = time.perf_counter()
            x_q = quantizer(syn) if quantizer is not None else syn
            loss, info = self._objective_loss(it, x_q, y_syn, x, y, num_classes, experts, syn_lr, gen)
            opt_syn.zero_grad(set_to_none=True)
            if opt_alpha is not None:
                opt_alpha.zero_grad(set_to_none=True)
            if opt_lr is not None and cfg.objective == "tm":
                opt_lr.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = float(syn.grad.norm()) if syn.grad is not None else 0.0
            if cfg.clip_grad > 0 and syn.grad is not None:
                torch.nn.utils.clip_grad_norm_([syn], cfg.clip_grad)
            opt_syn.step()
            if opt_alpha is not None:
                opt_alpha.step()
                with torch.no_grad():
                    for p in alpha_params:
                        p.clamp_(min=1e-6)
            if opt_lr is not None and cfg.objective == "tm" and syn_lr.grad is not None:
                opt_lr.step()
                with torch.no_grad():
                    syn_lr.clamp_(min=1e-6)
            with torch.no_grad():
                if const_mask is not None:
                    syn.copy_(apply_constant(syn, const_mask, const_fill))
                if cfg.clamp and not latent:  # a latent's values are bounded by the quantizer
                    syn.clamp_(lo, hi)
            if quantizer is not None and hasattr(quantizer, "step"):
                quantizer.step()
            record = {"iteration": it + 1, "loss": float(loss.detach()), "grad_norm": grad_norm,
                      "syn_lr": float(syn_lr.detach()), "seconds": time.perf_counter() - t_it, **info}
            record.update(self._alpha_stats(quantizer, alpha0))
            history.append(record)
            done = it + 1
            if len(val_idx) and (done % cfg.val_every == 0 or done == cfg.iterations):
                acc = self._validate(syn, quantizer, y_syn, num_classes, done)
                validation.append((done, acc))
                record["val_top1"] = acc
                if acc > best["accuracy"]:
                    best = {"iteration": done, "accuracy": acc, "syn": syn.detach().clone(),
                            "quantizer": copy.deepcopy(quantizer.state_dict()) if quantizer is not None else None}
            if self.checkpoint_path is not None and cfg.checkpoint_every and (
                    done % cfg.checkpoint_every == 0 or done == cfg.iterations):
                self._checkpoint(done, fingerprint, syn, syn_lr, opt_syn, quantizer, opt_alpha, opt_lr, gen,
                                 history, validation, best)
            if self.progress is not None:
                self.progress(done, cfg.iterations, record)
        self.timings_["loop_s"] = time.perf_counter() - loop_start

        # the kept set: best on validation when validated, else the last
        if validation and best["accuracy"] >= 0:
            with torch.no_grad():
                syn.copy_(best["syn"])
            if quantizer is not None and best["quantizer"] is not None:
                quantizer.load_state_dict(best["quantizer"])
            self.best_iteration_ = best["iteration"]
        else:
            self.best_iteration_ = cfg.iterations
        self.raw_ = syn.detach().clone()
        if cfg.quantizer == "ptq":
            from beamsim.distill.quant import build_quantizer

            quantizer = build_quantizer("ptq", bits=cfg.bits).to(self._device)
            quantizer.initialize(self.raw_)
        self.quantizer_ = quantizer
        if quantizer is not None:
            quantizer.eval()
            with torch.no_grad():
                self.synthetic_ = quantizer(self.raw_).detach()
        else:
            self.synthetic_ = self.raw_
        self.history_ = history
        self.validation_ = validation
        self.alpha_initial_ = alpha0
        self.timings_["total_s"] = time.perf_counter() - t_start
        return self

    # ------------------------------------------------------------------ objectives
    def _objective_loss(self, it, x_q, y_syn, x, y, num_classes, experts, syn_lr, gen):
        cfg = self.config
        if cfg.objective == "none":
            raise ValueError("objective 'none' has no loss (use --iterations 0 or another objective)")
        if cfg.objective == "dm":
            from beamsim.distill.objectives.distribution import distribution_matching_loss, sample_per_class
            from beamsim.distill.params import embed

            net = self._fresh_model(self.input_shape_, num_classes, gen)
            for p in net.parameters():
                p.requires_grad_(False)
            real_by_class = sample_per_class(x, y, num_classes, cfg.real_per_class, gen)
            syn_by_class = [x_q[y_syn == c] for c in range(num_classes)]
            loss = distribution_matching_loss(lambda t: embed(net, t), real_by_class, syn_by_class,
                                              augment=self._pair_augment(gen))
            return loss, {}
        if cfg.objective == "dc":
            from beamsim.distill.objectives.distribution import sample_per_class
            from beamsim.distill.objectives.gradient import gradient_matching_loss

            net = self._fresh_model(self.input_shape_, num_classes, gen)
            total = x_q.new_zeros(())
            opt_net = torch.optim.SGD(net.parameters(), lr=0.01)
            for _ in range(cfg.dc_inner_steps):
                groups = sample_per_class(x, y, num_classes, cfg.real_per_class, gen)
                real_x = torch.cat(groups)
                real_y = torch.repeat_interleave(torch.arange(num_classes, device=real_x.device),
                                                 torch.tensor([len(g) for g in groups], device=real_x.device))
                total = total + gradient_matching_loss(net, real_x, real_y, x_q, y_syn, num_classes,
                                                       augment=self._pair_augment(gen))
                if cfg.dc_inner_steps > 1:
                    opt_net.zero_grad(set_to_none=True)
                    F.cross_entropy(net(x_q.detach()), y_syn).backward()
                    opt_net.step()
            return total, {}
        if cfg.objective == "tm":
            from beamsim.distill.objectives.trajectory import trajectory_matching_loss

            span = max(1, cfg.iterations - 1)
            upper = cfg.initial_max_start_epoch + (cfg.max_start_epoch - cfg.initial_max_start_epoch) * it / span
            upper = int(math.floor(upper))
            e = int(torch.randint(len(experts), (1,), generator=gen))
            s = int(torch.randint(cfg.min_start_epoch, upper + 1, (1,), generator=gen))
            trajectory = experts[e]
            start = trajectory[s].to(self._device)
            target = trajectory[s + cfg.expert_epochs].to(self._device)
            dsa = self._dsa()
            loss, diag = trajectory_matching_loss(self._student, x_q, y_syn, start, target, syn_lr,
                                                  syn_steps=cfg.syn_steps, batch_size=cfg.batch_syn, generator=gen,
                                                  augment=(lambda xb: dsa(xb, gen)) if dsa is not None else None)
            info = {"expert": e, "start_epoch": s}
            info.update({k: float(v) for k, v in diag.items() if isinstance(v, (int, float, torch.Tensor))})
            return loss, info
        raise ValueError(f"unknown objective {cfg.objective!r}")

    # ------------------------------------------------------------------ helpers
    def _dsa(self) -> "DSA | None":
        """DSA for image runs (``config.dsa``), else None (beam maps are never augmented)."""
        if not self.config.dsa:
            return None
        from beamsim.distill.data.augment import DSA

        return DSA(strategy=self.config.dsa_strategy)

    def _pair_augment(self, gen: torch.Generator) -> Callable | None:
        """The siamese augmentation hook of the DM/DC losses, drawing from ``gen``; None without DSA."""
        dsa = self._dsa()
        if dsa is None:
            return None
        return lambda xr, yr, xs, ys: dsa.siamese(xr, yr, xs, ys, gen)

    def _validate(self, syn, quantizer, y_syn, num_classes, iteration) -> float:
        from beamsim.models.training import predict, train_model

        x_val, y_val = self._val
        gen = torch.Generator().manual_seed(derive_seed(self.seed, "validate", iteration))
        with torch.no_grad():
            if quantizer is not None:
                was = quantizer.training
                quantizer.eval()
                x_train = quantizer(syn).detach()
                quantizer.train(was)
            else:
                x_train = syn.detach().clone()
        model = self._fresh_model(self.input_shape_, num_classes, gen)
        train_model(model, x_train, y_syn, epochs=self.config.val_epochs, generator=gen, device=self._device,
                    augment=self._dsa())
        logits = predict(model, x_val, device=self._device)
        return float((logits.argmax(1).to(y_val.device) == y_val).float().mean())

    @staticmethod
    def _alpha(quantizer) -> torch.Tensor | None:
        if quantizer is None:
            return None
        params = [p for p in quantizer.parameters()]
        return params[0].detach().clone() if params else None

    def _alpha_stats(self, quantizer, alpha0) -> dict:
        alpha = self._alpha(quantizer)
        if alpha is None or alpha0 is None:
            return {}
        return {"alpha_mean": float(alpha.mean()), "alpha_min": float(alpha.min()), "alpha_max": float(alpha.max()),
                "alpha_moved": float((alpha - alpha0).abs().mean())}

    def _fingerprint(self) -> str:
        from beamsim.distill.quant import quantizer_class

        cfg = self.config.replace()
        text = cfg.replace(iterations=1, checkpoint_every=1).to_toml() + f"seed={self.seed};data={self._key}"
        if cfg.quantized_in_loop and quantizer_class(cfg.quantizer).version != 1:
            text += f";quantizer_version={quantizer_class(cfg.quantizer).version}"
        return hashlib.sha256(text.encode()).hexdigest()

    def _checkpoint(self, iteration, fingerprint, syn, syn_lr, opt_syn, quantizer, opt_alpha, opt_lr, gen, history,
                    validation, best) -> None:
        keys = sorted({k for row in history for k in row})
        table = torch.tensor([[float(row.get(k, math.nan)) for k in keys] for row in history], dtype=torch.float64)
        state = {
            "fingerprint": fingerprint, "iteration": iteration, "syn": syn.detach(), "syn_lr": syn_lr.detach(),
            "opt_syn": opt_syn.state_dict(), "generator": gen.get_state(),
            "history_keys": keys, "history": table,
            "validation": torch.tensor(validation, dtype=torch.float64).reshape(-1, 2),
            "best_iteration": best["iteration"], "best_accuracy": best["accuracy"], "best_syn": best["syn"],
        }
        if quantizer is not None:
            state["quantizer"] = quantizer.state_dict()
            state["best_quantizer"] = best["quantizer"]
            if hasattr(quantizer, "generator") and isinstance(quantizer.generator, torch.Generator):
                state["quantizer_generator"] = quantizer.generator.get_state()
        if opt_alpha is not None:
            state["opt_alpha"] = opt_alpha.state_dict()
        if opt_lr is not None:
            state["opt_lr"] = opt_lr.state_dict()
        with atomic_path(self.checkpoint_path, suffix=".pt.tmp") as tmp:
            torch.save(state, tmp)

    # ------------------------------------------------------------------ output
    def save(self, path: str | Path, *, source_sha256: str = "", source_path: str = "", source_samples: int | None = None,
             encoding: str | None = None, extra: dict | None = None, class_names: list[str] | None = None) -> dict:
        """Write the distilled set (packed b-bit codes, or float32 without a quantizer).

        ``extra`` joins the file's ``settings`` (image runs record their data set there:
        ``extra={"dataset": ImageData.settings()}``); ``class_names`` are stored when given.

        Returns:
            :func:`beamsim.distill.container.describe` of the written file.
        """
        from beamsim.distill.container import Provenance, save

        if not hasattr(self, "synthetic_"):
            raise RuntimeError("call fit() before save()")
        settings = {"config": self.config.as_dict(), "best_iteration": self.best_iteration_, **(extra or {})}
        provenance = Provenance(source_sha256=source_sha256, source_path=source_path, source_samples=source_samples,
                                encoding=encoding or "", objective=self.config.objective, spc=self.config.spc,
                                seed=self.seed)
        x = self.raw_ if self.quantizer_ is not None else self.synthetic_
        return save(path, x.cpu(), self.labels_.cpu(), self.quantizer_, num_classes=self.num_classes_,
                    class_names=class_names, provenance=provenance, settings=settings)
