"""3D rotary position embedding of the Wan DiT (shared/docs/models.md §1, "3D RoPE").

Each head's D channels form D/2 interleaved pairs ``(2p, 2p+1)``. The pairs are split between the three
axes of the token grid in the order time, height, width: ``D - 4*(D//6)`` channels for time and
``2*(D//6)`` each for height and width (44/42/42 for D = 128, 24/20/20 for D = 64). Pair ``j`` of an axis
with ``n`` channels turns by ``pos * theta**(-2j/n)``, ``pos`` being the token's 0-based index on that axis.

Pure functions, no caches: the angle table is O(L * D) and rebuilt per forward, which costs nothing next
to attention over the same L tokens.
"""

from __future__ import annotations

import torch
from torch import Tensor

ROPE_THETA = 10000.0


def rope_split(head_dim: int) -> tuple[int, int, int]:
    """Channels of a head given to the (time, height, width) axes; they sum to ``head_dim``."""
    third = head_dim // 6
    return head_dim - 4 * third, 2 * third, 2 * third


def rope_angles(
    grid: tuple[int, int, int],
    head_dim: int,
    *,
    theta: float = ROPE_THETA,
    device: torch.device | str | None = None,
) -> Tensor:
    """Rotation angle of every (token, channel pair) for a token grid.

    grid: (F', h', w') tokens per axis; tokens are ordered row-major (w' fastest), so L = F'*h'*w'.
    Returns [L, head_dim // 2] float64: columns [0, d_t/2) are time pairs, then height, then width.
    """
    if len(grid) != 3 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in grid):
        raise ValueError(f"grid must be three positive ints (frames, height, width) (got {grid!r})")
    if isinstance(head_dim, bool) or not isinstance(head_dim, int) or head_dim < 2 or head_dim % 2:
        raise ValueError(
            f"head_dim must be a positive even int: RoPE rotates channel pairs (got {head_dim!r})"
        )
    parts = []
    for axis, (size, channels) in enumerate(zip(grid, rope_split(head_dim))):
        # float64 on purpose: official Wan builds its RoPE table in float64; positions reach ~10^2 and the
        # slowest frequencies ~10^-4, so float32 angles would carry avoidable rounding into every head.
        exponents = torch.arange(0, channels, 2, dtype=torch.float64, device=device) / channels
        freqs = 1.0 / torch.pow(theta, exponents)
        positions = torch.arange(size, dtype=torch.float64, device=device)
        angles = torch.outer(positions, freqs)  # [size, channels // 2]
        shape = [1, 1, 1, channels // 2]
        shape[axis] = size
        parts.append(angles.view(shape).expand(*grid, channels // 2))
    return torch.cat(parts, dim=-1).reshape(-1, head_dim // 2)


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate each interleaved channel pair of q or k: ``(a, b) -> (a cos - b sin, a sin + b cos)``.

    x: [B, L, H, D] any float dtype; cos, sin: [L, D/2] (``rope_angles(...).cos()`` / ``.sin()``), any
    float dtype. The rotation runs in float32 (float64 if x is float64), as TurboDiffusion's reference does,
    and the result is returned in x's dtype, shape [B, L, H, D]. x is not modified.
    """
    if x.dim() != 4:
        raise ValueError(f"x must be [B, L, H, D] (got shape {tuple(x.shape)})")
    if x.shape[-1] % 2:
        raise ValueError(f"head dim D must be even: RoPE rotates channel pairs (got D={x.shape[-1]})")
    expected = (x.shape[1], x.shape[-1] // 2)
    for name, t in (("cos", cos), ("sin", sin)):
        if tuple(t.shape) != expected:
            raise ValueError(
                f"{name} must be [L, D/2] = {list(expected)} for x {tuple(x.shape)} (got {tuple(t.shape)})"
            )
    compute = torch.promote_types(x.dtype, torch.float32)
    a, b = x.to(compute).unflatten(-1, (-1, 2)).unbind(-1)  # each [B, L, H, D/2]
    c = cos.to(compute)[:, None, :]
    s = sin.to(compute)[:, None, :]
    rotated = torch.stack((a * c - b * s, a * s + b * c), dim=-1).flatten(-2)
    return rotated.to(x.dtype)


__all__ = ["ROPE_THETA", "apply_rope", "rope_angles", "rope_split"]
