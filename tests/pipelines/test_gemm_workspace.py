"""skip_cublaslt_workspace: CUBLASLT_WORKSPACE_SIZE=0 unless the user chose a size; the FP8 GEMM's outputs
do not change with it (GPU)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from turbodiffusion.pipelines.gemm_workspace import WORKSPACE_VARIABLE, skip_cublaslt_workspace


def test_sets_zero_when_the_environment_names_no_size():
    env = {"OTHER": "1"}
    assert skip_cublaslt_workspace(env) is True
    assert env == {"OTHER": "1", WORKSPACE_VARIABLE: "0"}
    assert skip_cublaslt_workspace(env) is False and env[WORKSPACE_VARIABLE] == "0"


@pytest.mark.parametrize("chosen", ["32768", "", "0"])
def test_a_size_the_user_exported_wins(chosen):
    env = {WORKSPACE_VARIABLE: chosen}
    assert skip_cublaslt_workspace(env) is False
    assert env == {WORKSPACE_VARIABLE: chosen}


def test_defaults_to_the_process_environment(no_cublaslt_workspace_variable):
    assert skip_cublaslt_workspace() is True and os.environ[WORKSPACE_VARIABLE] == "0"


# A fresh process (cuBLASLt reads the variable once): the DiT's row-scaled FP8 GEMM at the 1.3B-480p FFN's
# shape, its output's bytes hashed.
FP8_GEMM = """
import hashlib, sys, torch
from turbodiffusion.pipelines.gemm_workspace import skip_cublaslt_workspace
from turbodiffusion.quant.row_gemm import row_scaled_mm
if sys.argv[1] == "skip":
    assert skip_cublaslt_workspace()
g = torch.Generator(device="cuda").manual_seed(0)
a = (torch.randn(32760, 1536, device="cuda", generator=g) * 40).to(torch.float8_e4m3fn)
w = (torch.randn(8960, 1536, device="cuda", generator=g) * 40).to(torch.float8_e4m3fn)
sa = torch.rand(32760, device="cuda", generator=g) / 100
sw = torch.rand(8960, device="cuda", generator=g) / 100
bias = torch.randn(8960, device="cuda", generator=g)
out = row_scaled_mm(a, sa, w, sw, bias, out_dtype=torch.bfloat16, fast_accum=True)
torch.cuda.synchronize()
print(hashlib.sha256(out.view(torch.int16).cpu().numpy().tobytes()).hexdigest())
"""


@pytest.mark.gpu
def test_the_fp8_gemm_gives_the_same_bytes_without_a_workspace(no_cublaslt_workspace_variable):
    def digest(mode: str) -> str:
        run = subprocess.run(
            [sys.executable, "-c", FP8_GEMM, mode], capture_output=True, text=True, timeout=300
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    assert digest("skip") == digest("keep")
