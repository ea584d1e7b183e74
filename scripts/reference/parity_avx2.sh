#!/usr/bin/env bash
# The parity tests with ONNX Runtime's AVX2 kernels on an AVX-512 machine: MLAS picks its
# kernels by CPUID, and QEMU 7.2's TCG emulates a Haswell CPU (AVX2 + FMA, no AVX-512).
# Needs Debian's qemu-user. About 60x slower than native (TinyCNN + ResNets 20 min, the zoo 31 min).
# Each file runs in-process: `node --test` would start its files as native child processes
# (for the same reason the CLI tests' `pss` children run natively here).
#   PSS_PARITY_LOG=/tmp/avx2.jsonl bash scripts/reference/parity_avx2.sh [test files...]
set -euo pipefail
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(test/saliency/parity.test.ts test/models/zoo-parity.test.ts
  test/saliency/explain.test.ts test/models/fashion.test.ts test/models/onnx-import.test.ts)
status=0
for f in "${files[@]}"; do
  echo "== $f"
  qemu-x86_64 -cpu Haswell "$(command -v node)" --import tsx --test-reporter=spec "$f" 2>&1 \
    | grep -v "TCG doesn't support" || status=1
done
exit $status
