"""QuADD: quantization-aware dataset distillation, as a scikit-learn-style estimator.

``QuADD(config).fit(train)`` learns a synthetic set S (``spc`` samples per class) and the
thresholds of a quantizer Q together: every iteration computes the distillation loss on
Q(S), and the gradient reaches both S (straight through the rounding) and Q's thresholds.

Set-up, then the loop per iteration ``t`` (:meth:`QuADD.fit` reads in this order)::

    hold out     val_fraction of every class for validation (never the test split)
    constants    features constant over the real data, and the data's value range
    S, labels    initialisation (real | noise | herding | kcenter | quant-graphcut)
    Q            the in-loop quantizer, fitted to S; S becomes Q's latent for FSQ
    optimisers   SGD (momentum) on S, Adam on Q's thresholds; the objective owns its own
    resume       the checkpoint's RunState, when asked to

    x_q  = P(Q(S))                    (S itself for --quantizer ptq/none and --param none;
                                       --param fred|palette: S is P's latent, P decodes it)
    loss = objective(x_q, real data)  (a registered objective: tm trajectory matching,
                                       dm distribution matching, dc gradient matching;
                                       none: no loop, the initial selection is the result)
    S      <- SGD step (momentum), gradient norm clipped when clip_grad > 0; a loss or gradient
              that is not finite stops the run there with a ValueError (nothing is stepped)
    alpha  <- Adam step (its own learning rate); the objective steps its own parameters
    S      <- constant features reset, values clamped to the real data's range

Every ``val_every`` iterations a small model is trained on the current Q(S) and scored on the
held-out samples (:mod:`beamsim.distill.validation`); the set that scores best is kept, and with
``[validation] patience`` the loop stops once that many validations have not beaten it.
Checkpoints every ``checkpoint_every`` iterations (:class:`~beamsim.distill.runstate.RunState`)
make a run resumable; a resumed run gives the same result as an uninterrupted one. At the end
``--quantizer ptq`` quantizes the kept set once (min-max uniform).

Images (``default_config("image")``, data from :mod:`beamsim.distill.data`) use the same loop
with ``dsa = true``: the DM/DC losses see the real and synthetic batches through one siamese
DSA draw, every unrolled TM student step sees a fresh DSA draw, and the experts and the
validation model train on DSA-augmented batches (all drawn from the run's generators).
Beam maps are never augmented.

Results (after ``fit``): ``synthetic_`` (decoded Q(S), what a model trains on), ``labels_``,
``counts_``, ``source_index_``, ``quantizer_``, ``raw_`` (S before quantization), ``history_``
(one dict per iteration), ``validation_`` (iteration, accuracy), ``best_iteration_``,
``iterations_run_`` (fewer than configured after a plateau stop), ``timings_``,
``alpha_initial_``, ``num_classes_``, ``input_shape_``, ``param_`` (the parameterization,
:mod:`beamsim.distill.param`, or None; with one, ``raw_`` is its latent and ``synthetic_`` the
decoded samples), ``param_log_`` (its warm-up log), ``soft_labels_`` (the stored soft labels,
:class:`~beamsim.distill.labels.SoftLabels`, in the rows of ``synthetic_``; None: hard labels).

With ``[labels] soft`` (trajectory matching), every sample also learns a soft label
(:mod:`beamsim.distill.run_labels`): the student's target is its stored few-bit code.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from beamsim.config import derive_seed, resolve_device
from beamsim.distill.allocation import class_quotas
from beamsim.distill.config import DistillConfig, default_config
from beamsim.distill.constant import apply_constant, constant_feature_mask
from beamsim.distill.projection import Projection, projection
from beamsim.distill.experts import ExpertSettings, default_cache_dir, train_experts
from beamsim.distill.init import init_needs, initialize
from beamsim.distill.networks import Networks
from beamsim.distill.objectives import NO_OBJECTIVE, Objective, ObjectiveContext, build_objective, objective_class
from beamsim.distill.params import load_flat_params
from beamsim.distill.provenance import Provenance
from beamsim.distill.param import check_param
from beamsim.distill.labels import check_top_k
from beamsim.distill.run_labels import label_optimizer, loop_labels
from beamsim.distill.run_param import decode, decoded_view, loop_param, param_optimizer
from beamsim.distill.run_quantizer import (clamp_thresholds, final_quantizer, loop_quantizer, threshold_optimizer,
                                           threshold_stats, thresholds)
from beamsim.distill.runstate import (Best, CheckpointMismatchError, RunState, checkpoint_fingerprint, data_key,
                                      run_fingerprint)
from beamsim.distill.tensors import as_tensors
from beamsim.distill.validation import Validator, plateaued, stratified_holdout

if TYPE_CHECKING:
    from beamsim.distill.data.augment import DSA

__all__ = ["QuADD", "as_tensors", "CheckpointMismatchError"]

#: ``progress(iteration, total, info)`` after each iteration.
Progress = Callable[[int, int, dict], None]


def _due(done: int, every: int, total: int) -> bool:
    """True every ``every`` iterations and after the last one."""
    return done % every == 0 or done == total


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

    def check_resume(self, train: Any) -> bool:
        """Whether :meth:`fit` with ``resume=True`` would continue a checkpoint (False: none).

        Raises:
            CheckpointMismatchError: the checkpoint was written with other settings or data.
        """
        if self.checkpoint_path is None or not Path(self.checkpoint_path).exists():
            return False
        x_all, y_all, _ = as_tensors(train)
        self._key = data_key(x_all, y_all)
        if checkpoint_fingerprint(self.checkpoint_path) != run_fingerprint(self.config, self.seed, self._key):
            raise CheckpointMismatchError(
                f"checkpoint {self.checkpoint_path} was written with other settings or other data; "
                "delete it or run without --resume")
        return True

    # ------------------------------------------------------------------ fit
    def fit(self, train: Any, *, resume: bool = False) -> "QuADD":
        """Distil ``train`` (see :func:`as_tensors` for accepted forms). Returns ``self``.

        Raises:
            ValueError: bad data, an unknown objective, or ``objective = "none"`` with iterations.
            CheckpointMismatchError: ``resume`` found a checkpoint of other settings or data.
        """
        cfg = self.config
        objective_class(cfg.objective)  # an unknown name fails before any work
        if cfg.objective == NO_OBJECTIVE and cfg.iterations > 0:
            raise ValueError("objective 'none' has no loss (use --iterations 0 or another objective)")
        t_start = time.perf_counter()
        x_all, y_all = self._begin(train)
        check_param(cfg.param, self.input_shape_)
        if cfg.labels.soft:
            check_top_k(cfg.labels.top_k, self.num_classes_)  # before the experts train
        gen = torch.Generator().manual_seed(derive_seed(self.seed, "quadd"))
        nets = self._networks()

        # hold-out, constant features and value range of the real data
        x, y, validator = self._holdout(x_all, y_all, gen, nets)
        constant = constant_feature_mask(x) if cfg.keep_constant else None
        bounds = (float(x.min()), float(x.max()))

        # initial set, in-loop quantizer (S behind its bound for a latent quantizer), optimisers
        x_syn, y_syn = self._initial_set(x, y, gen, nets)
        if constant is not None:
            x_syn = apply_constant(x_syn, *constant)
        param = loop_param(cfg, x, constant, seed=self.seed, device=self._device)
        syn = nn.Parameter(param.to_latent(x_syn) if param is not None else x_syn.clone())
        quantizer = loop_quantizer(cfg, syn, seed=self.seed, device=self._device)
        sample = param is None or param.latent_is_sample
        project = projection(syn, quantizer, constant if sample else None, bounds if sample and cfg.clamp else None)
        self.param_log_ = param.prepare(syn.detach()) if param is not None else {}
        opt_syn = torch.optim.SGD([syn], lr=cfg.step.lr_syn, momentum=cfg.step.momentum_syn)
        opt_alpha = threshold_optimizer(quantizer, cfg.quantizer.lr_alpha)
        alpha0 = thresholds(quantizer)
        objective = self._objective(x, y, nets) if cfg.iterations > 0 or cfg.labels.soft else None
        labels = loop_labels(cfg, objective, decoded_view(syn, quantizer, param))
        run = RunState(run_fingerprint(cfg, self.seed, self._key), syn, opt_syn, gen, quantizer, opt_alpha, objective,
                       param, param_optimizer(param, cfg.param.lr), labels, label_optimizer(labels, cfg))
        if resume and self.checkpoint_path is not None and Path(self.checkpoint_path).exists():
            run.load(self.checkpoint_path)

        loop_start = time.perf_counter()
        stop = self._plateaued(run)  # a resumed run that had stopped stays stopped
        for it in range(run.iteration, cfg.iterations):
            if stop:
                break
            record = self._step(run, it, y_syn, project)
            record.update(threshold_stats(quantizer, alpha0))
            run.history.append(record)
            run.iteration = done = it + 1
            if validator.enabled and _due(done, cfg.validation.every, cfg.iterations):
                self._validate(run, validator, y_syn, record)
                stop = self._plateaued(run)
            if self.checkpoint_path is not None and cfg.checkpoint_every and (
                    stop or _due(done, cfg.checkpoint_every, cfg.iterations)):
                run.save(self.checkpoint_path)
            if self.progress is not None:
                self.progress(done, cfg.iterations, record)
        self.iterations_run_ = run.iteration
        self.timings_["loop_s"] = time.perf_counter() - loop_start

        self._finish(run)
        self.alpha_initial_ = alpha0
        self.timings_["total_s"] = time.perf_counter() - t_start
        return self

    # ------------------------------------------------------------------ the iteration
    def _step(self, run: RunState, it: int, y_syn: torch.Tensor, project: Projection) -> dict[str, float]:
        """One iteration: loss on Q(S), backward, the optimisers' steps, S projected back."""
        t_it = time.perf_counter()
        syn, quantizer, objective, param = run.syn, run.quantizer, run.objective, run.param
        target = run.labels.targets() if run.labels is not None else y_syn
        loss, info = objective.loss(it, decode(syn, quantizer, param), target, run.generator)
        if param is not None:
            extra, param_info = param.regularization(syn)
            loss, info = loss + extra, {**info, **param_info}
        optimizers = [opt for opt in (run.opt_syn, run.opt_alpha, run.opt_param, run.opt_labels) if opt is not None]
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        objective.zero_grad()
        loss.backward()
        grad_norm = float(syn.grad.norm()) if syn.grad is not None else 0.0
        loss_value = float(loss.detach())
        if not (math.isfinite(loss_value) and math.isfinite(grad_norm)):
            raise ValueError(f"distillation diverged at iteration {it + 1} (loss {loss_value:.4g}, "
                             f"gradient norm {grad_norm:.4g}); the samples were not updated: lower lr_syn, or for "
                             f"trajectory matching syn_steps or syn_lr_init")
        if self.config.step.clip_grad > 0 and syn.grad is not None:
            torch.nn.utils.clip_grad_norm_([syn], self.config.step.clip_grad)
        run.opt_syn.step()
        if run.opt_alpha is not None:
            run.opt_alpha.step()
            clamp_thresholds(run.opt_alpha)
        for opt in (run.opt_param, run.opt_labels):
            if opt is not None:
                opt.step()
        objective.step()
        project(syn)
        if quantizer is not None:
            quantizer.step()
        return {"iteration": it + 1, "loss": loss_value, "grad_norm": grad_norm,
                "seconds": time.perf_counter() - t_it, **info}

    def _validate(self, run: RunState, validator: Validator, y_syn: torch.Tensor, record: dict) -> None:
        """Score the current Q(S) on the hold-out; keep it when it beats the best so far."""
        targets = run.labels.stored().targets() if run.labels is not None else None
        accuracy = validator.score(decoded_view(run.syn, run.quantizer, run.param), y_syn, run.iteration, targets)
        run.validation.append((run.iteration, accuracy))
        record["val_top1"] = accuracy
        if accuracy > run.best.accuracy:
            run.best = Best.of(run.iteration, accuracy, run.syn, run.quantizer, run.param, run.labels)

    def _plateaued(self, run: RunState) -> bool:
        """Whether the validation scores have plateaued for ``[validation] patience`` validations."""
        return plateaued([accuracy for _, accuracy in run.validation], self.config.validation.patience)

    def _finish(self, run: RunState) -> None:
        """The kept set (best on validation when validated, else the last), quantized for the file."""
        cfg, syn, quantizer, best, param = self.config, run.syn, run.quantizer, run.best, run.param
        if run.validation and best.accuracy >= 0:
            with torch.no_grad():
                syn.copy_(best.syn)
            if quantizer is not None and best.quantizer is not None:
                quantizer.load_state_dict(best.quantizer)
            for module, state in ((param, best.param), (run.labels, best.labels)):
                if module is not None and state is not None:
                    module.load_state_dict(state)
            self.best_iteration_ = best.iteration
        else:
            self.best_iteration_ = cfg.iterations
        self.raw_ = syn.detach().clone()
        if quantizer is None:
            quantizer = final_quantizer(cfg, self.raw_, device=self._device)  # ptq: quantize the kept set once
        self.quantizer_, self.param_ = quantizer, param
        self.soft_labels_ = run.labels.stored() if run.labels is not None else None
        if quantizer is not None or param is not None:
            self.synthetic_ = decoded_view(self.raw_, quantizer, param)
            for module in (quantizer, param):
                if module is not None:
                    module.eval()
        else:
            self.synthetic_ = self.raw_
        self.history_ = run.history
        self.validation_ = run.validation

    # ------------------------------------------------------------------ set-up
    def _begin(self, train: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Device, timings, the data as tensors (all of it, on the CPU) and its key."""
        self._device = resolve_device(self.device)
        self.timings_: dict[str, float] = {}
        x_all, y_all, self.num_classes_ = as_tensors(train)
        self._key = data_key(x_all, y_all)
        self.input_shape_ = tuple(x_all.shape[1:])
        return x_all, y_all

    def _networks(self) -> Networks:
        return Networks(self.config.model, self.input_shape_, self.num_classes_, self._device)

    def _dsa(self) -> "DSA | None":
        """DSA for image runs (``config.augment.dsa``), else None (beam maps are never augmented)."""
        if not self.config.augment.dsa:
            return None
        from beamsim.distill.data.augment import DSA

        return DSA(strategy=self.config.augment.strategy)

    def _holdout(self, x_all: torch.Tensor, y_all: torch.Tensor, gen: torch.Generator,
                 nets: Networks) -> tuple[torch.Tensor, torch.Tensor, Validator]:
        """(x, y) to distil from, on the device, and the validator of the held-out rest."""
        cfg = self.config
        if cfg.validation.fraction > 0 and cfg.objective != NO_OBJECTIVE:
            tr_idx, val_idx = stratified_holdout(y_all, self.num_classes_, cfg.validation.fraction, gen)
        else:
            tr_idx, val_idx = torch.arange(len(y_all)), torch.arange(0)
        dev = self._device
        validator = Validator(x_all[val_idx].to(dev), y_all[val_idx].to(dev), nets, epochs=cfg.validation.epochs,
                              seed=self.seed, dsa=self._dsa(), device=dev)
        return x_all[tr_idx].to(dev), y_all[tr_idx].to(dev), validator

    def _experts(self, x: torch.Tensor, y: torch.Tensor, num: int | None = None) -> list[torch.Tensor]:
        """The run's expert trajectories (``num`` of them; default ``config.experts.num``), cached."""
        settings = ExpertSettings.from_config(self.config, num_experts=num)
        cache = Path(self.cache_dir) if self.cache_dir is not None else default_cache_dir()
        start = time.perf_counter()
        trajectories = train_experts(x, y, self.num_classes_, settings, cache_dir=cache, data_key=self._key,
                                     device=self._device, seed=self.seed)
        self.timings_["experts_s"] = self.timings_.get("experts_s", 0.0) + time.perf_counter() - start
        return trajectories

    def _initial_set(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator,
                     nets: Networks) -> tuple[torch.Tensor, torch.Tensor]:
        """The initial S and its labels on the device; sets ``labels_``, ``counts_``, ``source_index_``.

        A method that needs a feature network (``init_needs``) gets an expert's last epoch.
        """
        cfg = self.config
        model = None
        if "model" in init_needs(cfg.init):
            model = load_flat_params(nets.build(), self._experts(x, y, num=1)[0][-1]).eval()
        t0 = time.perf_counter()
        x_syn, y_syn, counts, source_index = initialize(
            x, y, self.num_classes_, self._quotas(y), cfg.init, replacement=cfg.replacement, generator=gen, model=model,
            bits=min(cfg.quantizer.bits, 8), graphcut_lambda=cfg.graphcut_lambda, device=self._device)
        self.timings_["init_s"] = time.perf_counter() - t0
        self.labels_, self.counts_, self.source_index_ = y_syn.to(self._device), counts, source_index
        return x_syn.to(self._device), self.labels_

    def _quotas(self, y: torch.Tensor) -> int | list[int]:
        """``spc`` (fixed allocation), or each class's share of its total (``allocation``)."""
        cfg = self.config
        if cfg.allocation == "fixed":
            return cfg.spc
        sizes = torch.bincount(y.cpu(), minlength=self.num_classes_).tolist()
        return class_quotas(sizes, cfg.spc, cfg.allocation, replacement=cfg.replacement)

    def _objective(self, x: torch.Tensor, y: torch.Tensor, nets: Networks) -> Objective | None:
        """The registered objective on ``(x, y)`` (trajectory matching trains its experts here)."""
        context = ObjectiveContext(x, y, self.num_classes_, nets, experts=lambda: self._experts(x, y),
                                   dsa=self._dsa(), device=self._device)
        return build_objective(self.config.objective, self.config, context)

    # ------------------------------------------------------------------ output
    def save(self, path: str | Path, *, provenance: Provenance | None = None, extra: dict | None = None,
             class_names: list[str] | None = None) -> dict:
        """Write the distilled set (packed b-bit codes, or float32 without a quantizer).

        Args:
            provenance: the real data it was distilled from (checksum, path, training-set size,
                beam encoding); the objective, spc and seed are this run's.
            extra: joins the file's ``settings`` (image runs record their data set there:
                ``extra={"dataset": ImageData.settings()}``).
            class_names: stored when given.

        Returns:
            :func:`beamsim.distill.container.describe` of the written file.
        """
        from beamsim.distill.container import save

        if not hasattr(self, "synthetic_"):
            raise RuntimeError("call fit() before save()")
        stopped = {"iterations_run": self.iterations_run_} if self.config.validation.patience else {}
        settings = {"config": self.config.as_dict(), "best_iteration": self.best_iteration_, **stopped, **(extra or {})}
        provenance = (provenance or Provenance()).replace(objective=self.config.objective, spc=self.config.spc,
                                                          seed=self.seed)
        if self.param_ is not None:
            return self.param_.codec().write(path, self.raw_.cpu(), self.labels_.cpu(), self.param_.cpu(),
                                             self.quantizer_.cpu() if self.quantizer_ is not None else None,
                                             num_classes=self.num_classes_, class_names=class_names,
                                             provenance=provenance, settings=settings)
        x = self.raw_ if self.quantizer_ is not None else self.synthetic_
        soft = {"soft": self.soft_labels_.cpu()} if self.soft_labels_ is not None else {}
        return save(path, x.cpu(), self.labels_.cpu(), self.quantizer_, num_classes=self.num_classes_,
                    class_names=class_names, provenance=provenance, settings=settings, **soft)
