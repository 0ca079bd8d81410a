"""The EDM2 power EMA: its exponent, its first updates, and validation."""

from __future__ import annotations

import math

import pytest
import torch

from turbodiffusion.training.ema import PowerEMA, power_from_sigma_rel


def test_power_from_sigma_rel_matches_recipe():
    gamma = power_from_sigma_rel(0.1)
    assert abs(gamma - 6.94) < 5e-3  # the recipe's γ ≈ 6.94 (§4)
    assert math.isclose(math.sqrt((gamma + 1) / ((gamma + 2) ** 2 * (gamma + 3))), 0.1, rel_tol=1e-9)
    with pytest.raises(ValueError, match=r"sigma_rel must be in \(0, 0.2887\]"):
        power_from_sigma_rel(0.5)
    with pytest.raises(ValueError, match="sigma_rel must be in"):
        power_from_sigma_rel(0.0)


def test_power_ema_updates_in_float32():
    model = torch.nn.Linear(3, 2).to(torch.bfloat16)
    model.bias.requires_grad_(False)  # frozen tensors are not averaged
    ema = PowerEMA(model)
    assert set(ema.shadow) == {"weight"} and ema.shadow["weight"].dtype == torch.float32
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model, 0)  # β_0 = 0: the first update copies the weights
    assert torch.equal(ema.shadow["weight"], torch.ones(2, 3))
    with torch.no_grad():
        model.weight.fill_(3.0)
    ema.update(model, 1)
    beta = 0.5 ** (ema.gamma + 1)
    assert torch.allclose(
        ema.shadow["weight"], torch.full((2, 3), beta * 1.0 + (1 - beta) * 3.0), rtol=0, atol=1e-6
    )
