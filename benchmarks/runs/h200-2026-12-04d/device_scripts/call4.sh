#!/bin/bash
# Device call 4 of 2026-12-04d: call 1's commands again, after call 1's captures (outside torch.no_grad)
# were fixed. The call ran a copy of call1.sh with call4 in its file names, which is what this does.
P=call4 bash "$(dirname "$0")/call1.sh"
