#!/usr/bin/env bash
# Here, once before a GPU run (../shared/GPU.md): fills .gpu/ (ignored) with what the GPU
# machine lacks — Node, ONNX Runtime's library, the node_modules the bench imports, and the
# Vulkan loader and GL dispatch .debs — and builds dist/. Then the device run is
#   run(command: "bash scripts/gpu/run.sh", carry: [".gpu", "dist"], timeout_s: 540)
# --dry: no .debs (no network needed), then scripts/gpu/run.sh --dry in a copy of the tree
# with only what travels (the carried folders, no node_modules), on the CPU.
# GPU_DIR (default .gpu), XZ_LEVEL (default 6) and SIZE_CHECK=0 (report the size, do not
# enforce it: fast compression is larger) are for the test of this script.
set -euo pipefail
cd "$(dirname "$0")/../.."
dry=
[ "${1:-}" = --dry ] && dry=1
gpu=${GPU_DIR:-.gpu}
level=${XZ_LEVEL:-6}
ort=node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1
[ -f "$ort" ] || { echo "prepare: $ort is missing: run npm ci" >&2; exit 1; }
[ "$(uname -m)" = x86_64 ] || { echo "prepare: the GPU machine is x86-64; prepare it on an x86-64 machine" >&2; exit 1; }

npm run build --silent
rm -rf "$gpu"
mkdir -p "$gpu/debs"
xz -T2 "-$level" -c "$(command -v node)" >"$gpu/node.xz"
xz -T2 "-$level" -c "$ort" >"$gpu/libonnxruntime.so.1.xz"
node scripts/gpu/modules.mjs >"$gpu/modules.txt"
# Other platforms' binaries, type declarations and the library (sent on its own) stay here.
tar -c --exclude='node_modules/onnxruntime-node/bin/napi-v6/darwin' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/win32' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/linux/arm64' \
  --exclude="$ort" --exclude='*.d.ts' --exclude='*.md' --exclude='*.map' \
  -T "$gpu/modules.txt" | xz -T2 "-$level" >"$gpu/node_modules.tar.xz"

if [ -z "$dry" ]; then
  # The device tool's recipe (amd64 packages whatever this machine is).
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  mkdir -p /tmp/amd64/partial
  apt-get "${o[@]}" update -qq
  (cd "$gpu/debs" && apt-get "${o[@]}" download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi

# What travels: tracked and untracked-not-ignored files, plus the carried folders (64 MiB in all).
tree=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 du -cb 2>/dev/null | awk '/total$/ {s += $1} END {print s}')
carried=$(du -cb "$gpu" dist | awk '/total$/ {print $1}')
total=$((tree + carried))
echo "prepare: $gpu $(du -sh "$gpu" | cut -f1), dist $(du -sh dist | cut -f1); with the tree $((total / 1048576)) MiB of 64"
[ "$total" -lt $((64 * 1048576)) ] || [ "${SIZE_CHECK:-1}" = 0 ] || { echo "prepare: over the 64 MiB the device run carries" >&2; exit 1; }

if [ -n "$dry" ]; then
  copy=$(mktemp -d)
  trap 'rm -rf "$copy"' EXIT
  (git ls-files -z; git ls-files -z --others --exclude-standard) | tar --null -T - -c | tar -x -C "$copy"
  cp -r dist "$copy/dist"
  cp -r "$gpu" "$copy/.gpu"
  OUT="$copy/out" bash "$copy/scripts/gpu/run.sh" --dry
  cp "$copy/out/gpu-bench.json" "$gpu/dry-bench.json"
fi
