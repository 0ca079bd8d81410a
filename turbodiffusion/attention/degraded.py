"""One WARNING when an attention backend runs a slower path than it is built for (its plain-PyTorch
reference on the CPU, 16-bit P.V on a GPU without FP8), instead of one per layer of the model."""

from __future__ import annotations

import logging
from collections import defaultdict

import torch
from torch import nn

logger = logging.getLogger(__name__)


class WarnsOnDegradedPath:
    """Mixin for backend modules: ``warn_degraded(device)`` logs ``degraded_reason(device)`` once per module.

    ``degraded_reported`` is public so that ``report_degraded_attention`` can speak for a whole model.
    """

    degraded_reported: bool = False

    def degraded_reason(self, device: torch.device) -> str | None:
        """Why this module is slower on ``device`` than it is built to be; None when it is not."""
        raise NotImplementedError

    def warn_degraded(self, device: torch.device) -> None:
        if self.degraded_reported:
            return
        reason = self.degraded_reason(device)
        if reason is not None:
            logger.warning("%s", reason)
            self.degraded_reported = True


def report_degraded_attention(model: nn.Module, device: torch.device) -> int:
    """Log each distinct reason among ``model``'s attention modules once, with how many layers it concerns,
    and mark those modules reported so their forwards stay quiet. Returns the number of WARNINGs logged."""
    by_reason: dict[str, list[WarnsOnDegradedPath]] = defaultdict(list)
    for module in model.modules():
        if isinstance(module, WarnsOnDegradedPath) and not module.degraded_reported:
            reason = module.degraded_reason(device)
            if reason is not None:
                by_reason[reason].append(module)
    for reason, modules in by_reason.items():
        layers = "layer" if len(modules) == 1 else "layers"
        logger.warning("%s (%d attention %s)", reason, len(modules), layers)
        for module in modules:
            module.degraded_reported = True
    return len(by_reason)
