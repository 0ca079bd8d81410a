"""``quantize_(model, config)``: swap a model's block linears for W8A8 ones, in place.

Scope is the official rule (quantization.md §1): only modules under ``model.blocks`` are touched, every
``nn.Linear`` there is converted except those whose qualified name contains a ``config.skip`` string
(SLA's ``proj_l`` by default). Embeddings, the time MLP, the head, norms and modulation stay in float.

Works on a model built on the meta device (the swapped layers are empty shells whose state-dict names and
shapes are the quantised checkpoint's, ready for ``load_state_dict(assign=True)``) and on a materialised
model (its weights are quantised now).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import nn

from .config import Fp8Config, Fp8RowConfig, Int8Config, QuantConfig
from .fp8_row_linear import Fp8RowLinear
from .int8_linear import Fp8Linear, Int8Linear

logger = logging.getLogger(__name__)

# config type -> (module types it converts, converter). One verb, one handler per config type.
_HANDLERS: dict[type, tuple[tuple[type, ...], Callable[[nn.Module, QuantConfig], nn.Module]]] = {
    Int8Config: ((nn.Linear,), lambda m, cfg: Int8Linear.from_linear(m, impl=cfg.impl)),
    Fp8Config: ((nn.Linear, Int8Linear), lambda m, cfg: Fp8Linear.from_linear(m, impl=cfg.impl)),
    Fp8RowConfig: (
        (nn.Linear, Int8Linear),
        lambda m, cfg: Fp8RowLinear.from_linear(m, fast_accum=cfg.fast_accum, impl=cfg.impl),
    ),
}


def _convert_on(
    linear: nn.Module, convert: Callable[[nn.Module], nn.Module], work: torch.device | None, stay: bool
):
    """``convert(linear)`` computed on ``work`` (None: where the layer is), returned on the layer's device,
    or left on ``work`` when ``stay``."""
    home = next(linear.parameters(), None)
    home = home.device if home is not None else next(linear.buffers()).device
    if work is None or home.type == "meta" or home == work:
        return convert(linear)
    linear.to(work)  # the float layer is dropped once converted, so it moves rather than being copied
    try:
        layer = convert(linear)
    except BaseException:
        linear.to(home)  # the failed layer back where it was
        raise
    return layer if stay else layer.to(home)


def quantize_(
    model: nn.Module,
    config: QuantConfig,
    *,
    device: torch.device | str | None = None,
    to_device: bool = False,
) -> nn.Module:
    """Replace the linears in ``model.blocks`` per ``config``; returns ``model`` (changed in place).

    Int8Config: nn.Linear -> Int8Linear. Fp8Config: nn.Linear or Int8Linear -> Fp8Linear (re-quantising
    INT8 weights). Fp8RowConfig: nn.Linear or Int8Linear -> Fp8RowLinear. Every target is checked before
    anything changes, so a failed check leaves the model as it was. Raises ValueError if the model has no
    ``blocks`` or a target's widths do not fit the format (multiples of 128 in, or of 16 for Fp8RowConfig).
    The layers are then converted one at a time, each float layer dropped as its quantised one replaces it
    (the peak memory is the model plus one layer), so an error during a conversion (out of memory on
    ``device``) leaves the layers before it converted and the failing one as it was.

    device: where the weights are quantised (default: where they are). A model loaded on the CPU for a GPU
    takes ``device="cuda"``: each layer goes to the GPU, is quantised there by the Triton quantisers (the
    same codes as the CPU references, which are far slower: Wan 1.3B's block linears took 9 s for FP8
    row-wise and 6 s for INT8 on a 2-core CPU) and comes back as its quantised layer, one layer at a time.

    to_device: the model ends on ``device`` (required): each quantised layer stays there and the rest of the
    model follows once all are converted, for a model about to run there anyway. A quantised 14B DiT then
    crosses the bus once instead of three times (float layers in, quantised ones out and back in). The
    peak device memory is the quantised layers plus one float layer, then the whole quantised model. An
    error during a conversion leaves the layers converted before it on ``device``.
    """
    if to_device and device is None:
        raise ValueError("to_device=True needs device= (where the model should end up)")
    if type(config) not in _HANDLERS:
        raise ValueError(
            f"config must be an Int8Config, Fp8Config or Fp8RowConfig (got {type(config).__name__})"
        )
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.Module):
        raise ValueError(
            f"quantize_ converts the linears under model.blocks (quantization.md §1); "
            f"{type(model).__name__} has no 'blocks' module"
        )
    kinds, convert = _HANDLERS[type(config)]
    targets: list[tuple[nn.Module, str, str, nn.Module]] = []  # (parent, attribute, qualified name, linear)
    for parent_name, parent in blocks.named_modules(prefix="blocks"):
        for attr, child in parent.named_children():
            name = f"{parent_name}.{attr}"
            if isinstance(child, kinds) and not any(s in name for s in config.skip):
                targets.append((parent, attr, name, child))
    if isinstance(config, Fp8RowConfig):
        bad = [
            f"{name} ({lin.in_features} -> {lin.out_features})"
            for _, _, name, lin in targets
            if lin.in_features % 16 or lin.out_features % 16
        ]
        need = "in_features and out_features must be multiples of 16 for the FP8 GEMM"
    else:
        bad = [
            f"{name} (in_features={lin.in_features})" for _, _, name, lin in targets if lin.in_features % 128
        ]
        need = "in_features must be a multiple of 128 for the 128x128 format"
    if bad:
        raise ValueError(
            f"{len(bad)} linear(s) do not fit ({need}): "
            f"{', '.join(bad[:5])}; add their names to the config's skip list to keep them in float"
        )
    work = torch.device(device) if device is not None else None
    for parent, attr, _, child in targets:
        setattr(parent, attr, _convert_on(child, lambda m: convert(m, config), work, to_device))
    if to_device:
        model.to(work)
    logger.info("quantize_: %d linears in model.blocks -> %s", len(targets), type(config).__name__)
    return model
