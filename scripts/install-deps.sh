#!/usr/bin/env bash
# The one list of what seqlora needs, used by the README, .ci/run, the containers and the conda recipe's notes.
#
#   scripts/install-deps.sh build     # compilers + libraries to build and run seqlora (Debian/Ubuntu)
#   scripts/install-deps.sh test      # build + the peers the tests compare against (bcftools, plink 1.9,
#                                     # PyTorch/transformers/PEFT/scikit-learn in .venv, snakemake, wrk)
#   scripts/install-deps.sh runtime   # shared libraries only (slim container stage)
#   scripts/install-deps.sh --print build|test|runtime   # print the package list, install nothing
#
# Runs apt-get as root, or through sudo when not root.
set -euo pipefail

# Shared libraries seqlora links against at run time.
RUNTIME_PKGS=(libhts3 liblmdb0 libzstd1 libarchive13 libjansson4 libcurl3-gnutls libssl3 libopenblas0-pthread
              libmicrohttpd12 ca-certificates procps)
# (procps: `ps`, which Nextflow needs inside a container to collect task metrics.)
# What it takes to build it.
# libcurl4-gnutls-dev, not -openssl-dev: libhts-dev depends on the gnutls flavour and the two conflict.
BUILD_PKGS=(build-essential cmake ninja-build pkg-config git
            libhts-dev liblmdb-dev libzstd-dev libarchive-dev libjansson-dev libcurl4-gnutls-dev libssl-dev
            libopenblas-dev libmicrohttpd-dev zstd lmdb-utils clang-format)
# Peers and tools the tests compare against. Debian's CPU-only torch keeps CI small (PyPI's wheel pulls GBs of CUDA).
TEST_PKGS=(bcftools tabix plink1.9 python3 python3-venv python3-pip python3-torch python3-numpy python3-sklearn
           python3-yaml wrk clang libclang-rt-14-dev valgrind curl)
# Python peers, pinned to versions that support Debian 12's torch 1.13.1. They are installed with --no-deps:
# Debian's torch calls itself 1.13.0a0, a pre-release that does not satisfy peft's "torch>=1.13.0", and pip
# would otherwise pull PyPI's multi-GB CUDA torch. Their other requirements are listed in PIP_DEPS.
PIP_PEERS=(transformers==4.46.3 peft==0.13.2 safetensors==0.4.5 tokenizers==0.20.3 accelerate==1.0.1
           huggingface-hub==0.26.5)
PIP_DEPS=(filelock fsspec packaging pyyaml regex requests tqdm psutil typing-extensions
          jsonschema==4.23.0 snakemake==9.14.0)

# Ubuntu 24.04 (the base of NVIDIA's CUDA images) renamed some runtime libraries in the 64-bit time_t transition.
os_id=$( (. /etc/os-release 2>/dev/null && echo "${ID:-}:${VERSION_ID:-}") || true)
if [[ $os_id == ubuntu:2[4-9]* ]]; then
  for i in "${!RUNTIME_PKGS[@]}"; do
    case ${RUNTIME_PKGS[$i]} in
      libhts3|libarchive13|libssl3|libmicrohttpd12) RUNTIME_PKGS[$i]=${RUNTIME_PKGS[$i]}t64 ;;
      libcurl3-gnutls) RUNTIME_PKGS[$i]=libcurl3t64-gnutls ;;
    esac
  done
fi

# oneDNN 2.x for `--precision bf16` on the CPU (optional at build time: SEQLORA_ONEDNN=AUTO). Debian 12 ships
# 2.6.3 (the version checked here); elsewhere AUTO builds without bf16 unless a oneDNN 2.x is installed (3.x
# changed the C API and is not used yet).
if [[ $os_id == debian:12 ]]; then
  RUNTIME_PKGS+=(libdnnl2)
  BUILD_PKGS+=(libdnnl-dev)
fi

mode=${1:-build}
if [[ $mode == --print ]]; then
  case ${2:-build} in
    runtime) printf '%s\n' "${RUNTIME_PKGS[@]}" ;;
    build) printf '%s\n' "${BUILD_PKGS[@]}" ;;
    test) printf '%s\n' "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" ;;
    pip) printf '%s\n' "${PIP_DEPS[@]}" "${PIP_PEERS[@]}" ;;
  esac
  exit 0
fi

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO=sudo
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  # Skip apt entirely when everything is there already (fast reruns, offline machines).
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

here=$(cd "$(dirname "$0")/.." && pwd)
case $mode in
  runtime) apt_install "${RUNTIME_PKGS[@]}" ;;
  build) apt_install "${BUILD_PKGS[@]}" ;;
  test)
    apt_install "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"
    # A venv on Debian's python3 that sees python3-torch, with the pinned HF stack on top.
    venv=${SEQLORA_VENV:-$here/.venv}
    if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import peft, transformers, torch' 2>/dev/null; then
      /usr/bin/python3 -m venv --system-site-packages "$venv"
      "$venv/bin/pip" install -q --disable-pip-version-check "${PIP_DEPS[@]}"
      "$venv/bin/pip" install -q --disable-pip-version-check --no-deps "${PIP_PEERS[@]}"
    fi
    ;;
  *) echo "usage: $0 build|test|runtime|--print LIST" >&2; exit 2 ;;
esac
