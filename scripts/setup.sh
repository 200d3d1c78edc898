#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine: npm dependencies
# and the system toolchains (C compiler, SIMDe, PoCL + OpenCL ICD loader and headers,
# the aarch64 cross compiler, clang (the Android NDK's compiler, built for aarch64 in the
# tests), qemu-user). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential clang cmake pkg-config libsimde-dev ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-headers opencl-c-headers clinfo pocl-opencl-icd gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund
# llama.cpp (prebuilt CPU build inside node-llama-cpp): the benchmark baseline and the
# loader the tests use to check our GGUF exports.
npm ci --prefix bench --no-audit --no-fund
echo "setup: done"
