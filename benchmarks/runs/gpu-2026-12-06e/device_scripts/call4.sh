#!/bin/bash
# GPU call 4 of gpu-2026-12-06e (run as this one command line): the attention test that failed in call 3, alone
# and with its traceback, then the rest of tests/attention with a longer limit than call 3's.
timeout 60 python -m pytest -q -p no:cacheprovider --tb=short "tests/attention/test_sage.py::test_v_quantiser_builds_when_torch_compile_types_its_float_as_fp64" 2>&1 | tail -30; timeout 450 python -m pytest -q -p no:cacheprovider --tb=line -rf tests/attention --deselect "tests/attention/test_sage.py::test_v_quantiser_builds_when_torch_compile_types_its_float_as_fp64" > $OUT/attention_all.log 2>&1; echo "rc $?"; tail -n 8 $OUT/attention_all.log
