"""The Wan VAE's configuration (``WanVAEConfig``) and the Wan2.1 latent statistics, apart from the network
(vae.py) so that presets and CLI help can name them without importing torch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

# Per-channel statistics of the Wan2.1 latent (official release; models.md §5).
WAN21_LATENT_MEAN: tuple[float, ...] = (
    -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
    0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
)  # fmt: skip
WAN21_LATENT_STD: tuple[float, ...] = (
    2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
    3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160,
)  # fmt: skip


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class WanVAEConfig:
    """What a Wan VAE checkpoint needs. Field names are the official constructor's (typo included)."""

    dim: int = 96  # width of the first encoder level and the last decoder level
    z_dim: int = 16  # latent channels (the encoder head emits 2 * z_dim: mean and log-variance)
    dim_mult: tuple[int, ...] = (1, 2, 4, 4)  # width multiplier per level; len - 1 spatial x2 steps
    num_res_blocks: int = 2  # residual blocks per encoder level; the decoder has one more per level
    attn_scales: tuple[float, ...] = ()  # spatial scales (1, 0.5, ...) with attention after each res block
    temperal_downsample: tuple[bool, ...] = (False, True, True)  # which downsamples also halve time
    dropout: float = 0.0  # inside residual blocks; inert at inference, kept for the official layout
    latent_mean: tuple[float, ...] = WAN21_LATENT_MEAN  # per-channel latent mean (normalisation)
    latent_std: tuple[float, ...] = WAN21_LATENT_STD  # per-channel latent std (normalisation)

    def __post_init__(self) -> None:
        for name in ("dim", "z_dim", "num_res_blocks"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive int (got {value!r})")
        for name in ("dim_mult", "attn_scales", "temperal_downsample", "latent_mean", "latent_std"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                raise ValueError(
                    f"{name} must be a tuple (got {type(value).__name__}); "
                    "pass tuple(...) or build from a dict with WanVAEConfig.from_official"
                )
        if not self.dim_mult or not all(_is_int(m) and m >= 1 for m in self.dim_mult):
            raise ValueError(f"dim_mult must be a non-empty tuple of positive ints (got {self.dim_mult})")
        odd = [m for m in self.dim_mult[1:] if (self.dim * m) % 2]
        if odd:
            raise ValueError(
                f"dim * m must be even for every m in dim_mult[1:] because each decoder upsample halves the "
                f"width (got dim={self.dim}, dim_mult={self.dim_mult}); use an even dim"
            )
        if len(self.temperal_downsample) != len(self.dim_mult) - 1 or not all(
            isinstance(v, bool) for v in self.temperal_downsample
        ):
            raise ValueError(
                f"temperal_downsample must hold len(dim_mult) - 1 = {len(self.dim_mult) - 1} bools, one per "
                f"downsample (got {self.temperal_downsample})"
            )
        if not all(
            isinstance(s, (int, float)) and not isinstance(s, bool) and s > 0 for s in self.attn_scales
        ):
            raise ValueError(
                f"attn_scales must hold positive numbers such as 1.0 or 0.5 (got {self.attn_scales})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1) (got {self.dropout}); the Wan VAE uses 0.0")
        for name in ("latent_mean", "latent_std"):
            value = getattr(self, name)
            if len(value) != self.z_dim:
                raise ValueError(
                    f"{name} must have z_dim={self.z_dim} values (got {len(value)}); "
                    f"pass latent_mean and latent_std with {self.z_dim} values each"
                )
        if not all(isinstance(s, (int, float)) and s > 0 for s in self.latent_std):
            raise ValueError(f"latent_std values must all be positive (got {self.latent_std})")

    @property
    def spatial_factor(self) -> int:
        """Pixels per latent cell along H and W (8 for Wan2.1)."""
        return 2 ** (len(self.dim_mult) - 1)

    @property
    def temporal_factor(self) -> int:
        """Pixel frames per latent frame after the first (4 for Wan2.1): T = 1 + temporal_factor * (F - 1)."""
        return 2 ** sum(self.temperal_downsample)

    @classmethod
    def from_official(cls, d: Mapping[str, Any]) -> WanVAEConfig:
        """Build from an official-style dict (manifest/fixture ``config``, optionally with latent_mean/std).

        Lists become tuples; unknown keys are rejected by name. Official configs carry no latent
        statistics; when absent, a z_dim of at most 16 takes the first z_dim Wan2.1 values (all 16 for
        the real VAE; the first few for the tiny reference fixtures, which were built that way), and
        a larger z_dim must pass them.
        """
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ValueError(
                f"unknown Wan VAE config keys: {', '.join(unknown)}; known keys: {', '.join(known)}"
            )
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        z_dim = kwargs.get("z_dim", cls.z_dim)
        if _is_int(z_dim) and 1 <= z_dim <= len(WAN21_LATENT_MEAN):
            kwargs.setdefault("latent_mean", WAN21_LATENT_MEAN[:z_dim])
            kwargs.setdefault("latent_std", WAN21_LATENT_STD[:z_dim])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples as lists) that ``from_official`` reads back to an equal config."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


WAN21_VAE = WanVAEConfig()
