#!/usr/bin/env bash
# On the GPU machine, as the device run's command (scripts/gpu/prepare.sh made .gpu/ and dist/,
# which the run carries): installs the Vulkan loader, unpacks Node, node_modules and ONNX
# Runtime's library, and runs scripts/gpu/bench.mjs, whose table and gpu-bench.json land in $OUT.
# --dry (prepare.sh --dry, here): no .debs or driver, the bench on the CPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
dry=
[ "${1:-}" = --dry ] && dry=1
out=${OUT:-/tmp/pss-gpu-out}
mkdir -p "$out"
if [ -z "$dry" ]; then
  for f in .gpu/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  nvidia-smi -L >"$out/gpu.txt" 2>&1 || true
fi
node=$(mktemp -d)/node
xz -d -c .gpu/node.xz >"$node"
chmod +x "$node"
tar -xJf .gpu/node_modules.tar.xz
xz -d -c .gpu/libonnxruntime.so.1.xz >node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1
"$node" scripts/gpu/bench.mjs --out "$out" ${dry:+--dry} 2>&1 | tee "$out/bench.log"
