"""The SLA golden fixtures (shared/reference/golden, case "sla"), recomputed from their inputs alone."""

from __future__ import annotations

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from turbodiffusion.attention.sla.golden import run_sla_fixture
from turbodiffusion.testing.compare import rel_l2
from turbodiffusion.testing.tolerances import GOLDEN_REL_L2


def sla_fixtures(shared_dir):
    found = []
    for path in sorted((shared_dir / "reference" / "golden").glob("*.safetensors")):
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
        if metadata.get("case") == "sla":
            found.append((path, metadata))
    return found


def test_every_sla_fixture_is_reproduced(shared_dir):
    fixtures = sla_fixtures(shared_dir)
    assert fixtures, "no SLA fixture (metadata case == 'sla') in shared/reference/golden"
    for path, metadata in fixtures:
        result = run_sla_fixture(load_file(str(path)), metadata)
        ours, expected = result["block_map"]
        assert torch.equal(ours, expected), f"{path.name}: block map differs"
        ours, expected = result["o"]
        assert rel_l2(ours, expected) <= GOLDEN_REL_L2, f"{path.name}: rel L2 {rel_l2(ours, expected):.2e}"


def test_fixture_runner_rejects_a_topk_count_it_cannot_derive(shared_dir):
    path, metadata = sla_fixtures(shared_dir)[0]
    with pytest.raises(ValueError, match="real_topk_blocks=3 but topk_ratio"):
        run_sla_fixture(load_file(str(path)), {**metadata, "real_topk_blocks": "3"})


def test_fixture_runner_names_missing_entries(shared_dir):
    path, metadata = sla_fixtures(shared_dir)[0]
    tensors = load_file(str(path))
    with pytest.raises(ValueError, match="lacks 'BLKK'"):
        run_sla_fixture(tensors, {k: v for k, v in metadata.items() if k != "BLKK"})
    with pytest.raises(ValueError, match="lacks tensor 'weights.proj_l.bias'"):
        run_sla_fixture({k: v for k, v in tensors.items() if k != "weights.proj_l.bias"}, metadata)
