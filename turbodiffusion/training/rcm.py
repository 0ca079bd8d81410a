"""rCM distillation: sCM consistency loss with a forward-mode tangent, DMD regulariser, fake-score step.

shared/docs/sampling-and-training.md §1 and §4. All three networks (teacher, student, fake score) are
Wan DiTs used through one TrigFlow denoiser: for a TrigFlow sample ``x`` at time ``t``

    x_rf = x / (cos t + sin t),  s = sin t / (cos t + sin t),  v = net(x_rf, 1000 s)
    x0_hat = x_rf − s v,         F_hat = (cos t · x − x0_hat) / sin t

The student's tangent ``T = cos t sin t · dF_θ/dt`` along the teacher ODE is a JVP through the whole
network (``torch.func.jvp``), so the student's attention must have a JVP: see ``enable_jvp_attention``.
Coefficients are formed in float64 outside the network, as the reference does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..attention.jvp import DenseJVPAttention
from ..attention.ulysses import UlyssesAttention
from .flow import LossOutput, check_latents, model_dtype, sample_shifted_time

# Per-sample normaliser of the sCM target direction: g / (‖g‖ + 0.1) (§4 step 5).
SCM_NORM_EPS = 0.1
# Lower bound of the DMD per-sample weight w = mean|G − x0_real| (§4).
DMD_MIN_WEIGHT = 1e-5


@dataclass(frozen=True)
class RCMLossConfig:
    """Knobs of the rCM losses; defaults are the Wan2.1 1.3B recipe (§4)."""

    p_mean: float = 0.7  # sCM time distribution: log σ ~ N(p_mean, p_std²); 14B uses 1.5
    p_std: float = 1.6
    guidance: float = 5.0  # teacher CFG scale (distilled into the student)
    warmup_iters: int = 1000  # tangent warm-up W: r = min(1, iter / W); 0 = no warm-up (14B)
    shift: float = 5.0  # p_D: RF time 5u/(1 + 4u) for u ~ U[0, 1), i.e. shift 5
    scm_weight: float = 100.0  # student loss = scm_weight · L_sCM + dmd_weight · L_DMD
    dmd_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.p_std <= 0:
            raise ValueError(f"p_std must be positive (got {self.p_std}); the recipe uses 1.6")
        if self.warmup_iters < 0:
            raise ValueError(f"warmup_iters must be >= 0 (got {self.warmup_iters}); 1000 (1.3B) or 0 (14B)")
        if self.shift <= 0:
            raise ValueError(f"shift must be positive (got {self.shift}); the recipe uses 5")


def _b(t: Tensor) -> Tensor:
    return t.view(-1, 1, 1, 1, 1)


def trigflow_denoise(net: nn.Module, x: Tensor, t: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
    """(x0_hat, F_hat) of a flow-matching DiT at TrigFlow sample x [B, C, F, h, w] and times t [B] (§1).

    Network input and τ are cast to the network's dtype; the coefficients stay in x's dtype (use
    float32 or float64). Differentiable in x, t and the weights, in both AD modes.
    """
    cos, sin = _b(torch.cos(t)).to(x.dtype), _b(torch.sin(t)).to(x.dtype)
    x_rf = x / (cos + sin)
    s = torch.sin(t) / (torch.cos(t) + torch.sin(t))
    dtype = model_dtype(net)
    v = net(x_rf.to(dtype), (1000.0 * s).to(dtype), context.to(dtype)).to(x.dtype)
    x0 = x_rf - _b(s).to(x.dtype) * v
    return x0, (cos * x - x0) / sin


def guided_denoise(
    teacher: nn.Module, x: Tensor, t: Tensor, context: Tensor, uncond: Tensor, scale: float
) -> tuple[Tensor, Tensor]:
    """Teacher (x0, F) with classifier-free guidance ``u + scale (c − u)``; no grad."""
    with torch.no_grad():
        x0_c, f_c = trigflow_denoise(teacher, x, t, context)
        x0_u, f_u = trigflow_denoise(teacher, x, t, uncond)
    return x0_u + scale * (x0_c - x0_u), f_u + scale * (f_c - f_u)


def sample_scm_time(batch: int, cfg: RCMLossConfig, generator: torch.Generator) -> Tensor:
    """TrigFlow t [B] float64: log σ ~ N(p_mean, p_std²), t = atan σ (§4)."""
    z = torch.randn(batch, generator=generator, dtype=torch.float64, device=generator.device)
    return torch.atan(torch.exp(cfg.p_mean + cfg.p_std * z))


def sample_dmd_time(batch: int, cfg: RCMLossConfig, generator: torch.Generator) -> Tensor:
    """TrigFlow t [B] float64 from p_D: u ~ U[0,1), s = shift·u/(1 + (shift−1) u), t = atan(s/(1−s))."""
    s = sample_shifted_time(batch, shift=cfg.shift, generator=generator, device=generator.device)
    return torch.atan2(s, 1.0 - s)


def enable_jvp_attention(model: nn.Module, impl: str = "auto") -> int:
    """Replace every ``attn_op`` submodule that has no parameters by ``DenseJVPAttention``.

    rCM's student trains with full attention (§4), so its dense backends are swapped for one with a
    forward-mode rule. Returns how many were replaced. Raises ValueError on an ``attn_op`` that owns
    weights (an SLA student), since dropping them would silently change the model. A sequence-parallel
    model keeps its ``UlyssesAttention`` wrappers: the backend inside each one is swapped instead.
    impl: the tangent's implementation ("auto", "triton" or "reference", see ``attention_jvp``).
    """
    count = 0
    for name, module in list(model.named_modules()):
        holder, attr, op = module, "attn_op", getattr(module, "attn_op", None)
        if isinstance(op, UlyssesAttention):
            # The wrapper has no weights either; replacing it would silently drop the all-to-all.
            holder, attr, op = op, "inner", op.inner
        if isinstance(op, nn.Module) and not isinstance(op, DenseJVPAttention):
            if any(True for _ in op.parameters()):
                raise ValueError(
                    f"{name}.attn_op has learned weights ({type(op).__name__}); rCM trains with full attention: "
                    'build the student with AttentionConfig("sdpa")'
                )
            setattr(holder, attr, DenseJVPAttention(impl))
            count += 1
    return count


def scm_loss(
    student: nn.Module,
    teacher: nn.Module,
    x0: Tensor,
    context: Tensor,
    uncond: Tensor,
    *,
    iteration: int,
    cfg: RCMLossConfig,
    generator: torch.Generator,
) -> LossOutput:
    """Continuous-time consistency loss of §4 (steps 1-6), summed over elements and samples.

    x0: [B, C, F, h, w] latents; context, uncond: [B, Lt, text_dim]. Draw order: t, then ε.
    Returns LossOutput with prediction F_θ and target F⁻ + g (the loss is Σ (F_θ − F⁻ − g)²).
    """
    check_latents(x0, context)
    B = x0.shape[0]
    t = sample_scm_time(B, cfg, generator).to(x0.device)
    eps = torch.randn(x0.shape, generator=generator, device=generator.device).to(x0.device)
    cos, sin = _b(torch.cos(t)), _b(torch.sin(t))
    x_t = (cos * x0.double() + sin * eps.double()).float()
    _, f_teacher = guided_denoise(teacher, x_t, t, context, uncond, cfg.guidance)

    # Tangent along the teacher ODE, forward mode, no autograd graph.
    def f_of(x: Tensor, tt: Tensor) -> Tensor:
        return trigflow_denoise(student, x, tt, context)[1]

    cs = torch.cos(t) * torch.sin(t)
    with torch.no_grad():
        _, tangent = torch.func.jvp(f_of, (x_t, t), ((_b(cs) * f_teacher).to(x_t.dtype), cs))

    f_theta = trigflow_denoise(student, x_t, t, context)[1]
    f_minus = f_theta.detach()
    r = 1.0 if cfg.warmup_iters == 0 else min(1.0, iteration / cfg.warmup_iters)
    g = (
        -cos * torch.sqrt(1.0 - r * r * sin * sin) * (f_minus - f_teacher).double()
        - r * cos * sin * x_t.double()
        - tangent.double()
    )
    # float64 per-sample normalisation, as the reference does.
    g = g / (g.flatten(1).norm(dim=1).view(-1, 1, 1, 1, 1) + SCM_NORM_EPS)
    g = g.float()
    per_sample = ((f_theta - f_minus - g) ** 2).flatten(1).sum(1)
    bad = ~(torch.isfinite(g).flatten(1).all(1) & torch.isfinite(f_minus).flatten(1).all(1))
    per_sample = torch.where(bad, torch.zeros_like(per_sample), per_sample)
    return LossOutput(per_sample.sum(), f_theta, (f_minus + g).detach())


def student_rollout(
    student: nn.Module,
    shape: tuple[int, ...],
    context: Tensor,
    *,
    n_sim: int,
    cfg: RCMLossConfig,
    generator: torch.Generator,
    grad: bool,
) -> Tensor:
    """Generate G = x0_hat with ``n_sim`` student steps from pure noise at t = π/2 (§4, DMD).

    Intermediate times come from p_D, sorted non-increasing; each step re-noises the clean estimate
    with fresh noise. Only the last call keeps a graph (when ``grad``). Returns G [B, C, F, h, w] float32.
    Draw order: initial noise, the n_sim − 1 times, then one noise per intermediate step.
    """
    if not 1 <= n_sim <= 4:
        raise ValueError(f"n_sim must be 1 to 4 student steps (got {n_sim})")
    B = shape[0]
    x = torch.randn(shape, generator=generator, device=generator.device).to(context.device)
    mids = (
        torch.stack([sample_dmd_time(B, cfg, generator) for _ in range(n_sim - 1)], 0) if n_sim > 1 else None
    )
    times = [torch.full((B,), math.pi / 2, dtype=torch.float64, device=generator.device)]
    if mids is not None:
        times += list(torch.sort(mids, dim=0, descending=True).values)
    # The generator may live on another device than the latents (a CPU generator for CUDA training).
    times = [t.to(context.device) for t in times]
    for i, t in enumerate(times):
        t = torch.minimum(t, times[i - 1]) if i else t
        last = i == len(times) - 1
        with torch.set_grad_enabled(grad and last):
            x0, _ = trigflow_denoise(student, x, t, context)
        if last:
            return x0
        t_next = torch.minimum(times[i + 1], t)
        noise = torch.randn(shape, generator=generator, device=generator.device).to(x.device)
        x = (_b(torch.cos(t_next)) * x0.double() + _b(torch.sin(t_next)) * noise.double()).float()
    raise AssertionError("unreachable: the loop returns on its last step")


def dmd_loss(
    student: nn.Module,
    teacher: nn.Module,
    fake_score: nn.Module,
    shape: tuple[int, ...],
    context: Tensor,
    uncond: Tensor,
    *,
    n_sim: int,
    cfg: RCMLossConfig,
    generator: torch.Generator,
) -> LossOutput:
    """DMD regulariser of §4: Σ (G − stopgrad(G − (x0_fake − x0_real)/w))², w = mean|G − x0_real|.

    shape: latent shape [B, C, F, h, w]. Draw order: rollout, t_D, ε'.
    Returns LossOutput with prediction G and the detached target G − (x0_fake − x0_real)/w.
    """
    G = student_rollout(student, shape, context, n_sim=n_sim, cfg=cfg, generator=generator, grad=True)
    t = sample_dmd_time(shape[0], cfg, generator).to(G.device)
    eps = torch.randn(shape, generator=generator, device=generator.device).to(G.device)
    x_d = (_b(torch.cos(t)) * G.detach().double() + _b(torch.sin(t)) * eps.double()).float()
    with torch.no_grad():
        x0_fake, _ = trigflow_denoise(fake_score, x_d, t, context)
    x0_real, _ = guided_denoise(teacher, x_d, t, context, uncond, cfg.guidance)
    w = (G.detach() - x0_real).abs().flatten(1).mean(1).clamp_min(DMD_MIN_WEIGHT)
    target = (G.detach() - (x0_fake - x0_real) / _b(w)).detach()
    return LossOutput(((G - target) ** 2).sum(), G, target)


def fake_score_loss(
    student: nn.Module,
    fake_score: nn.Module,
    shape: tuple[int, ...],
    context: Tensor,
    *,
    n_sim: int,
    cfg: RCMLossConfig,
    generator: torch.Generator,
) -> LossOutput:
    """Critic step of §4: Σ (G − FakeScore_x0(x_D))² / sin² t_D on student samples G (no grad to G)."""
    with torch.no_grad():
        G = student_rollout(student, shape, context, n_sim=n_sim, cfg=cfg, generator=generator, grad=False)
    t = sample_dmd_time(shape[0], cfg, generator).to(G.device)
    eps = torch.randn(shape, generator=generator, device=generator.device).to(G.device)
    x_d = (_b(torch.cos(t)) * G.double() + _b(torch.sin(t)) * eps.double()).float()
    x0_fake, _ = trigflow_denoise(fake_score, x_d, t, context)
    per_sample = ((G - x0_fake) ** 2).flatten(1).sum(1) / torch.sin(t).float() ** 2
    return LossOutput(per_sample.sum(), x0_fake, G)


__all__ = [
    "RCMLossConfig",
    "dmd_loss",
    "enable_jvp_attention",
    "fake_score_loss",
    "guided_denoise",
    "sample_dmd_time",
    "sample_scm_time",
    "scm_loss",
    "student_rollout",
    "trigflow_denoise",
]
