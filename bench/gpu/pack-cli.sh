#!/usr/bin/env bash
# Pack the seqlora binary with the shared libraries it needs that a GPU machine lacks (htslib, LMDB, zstd,
# libarchive, jansson, libcurl, OpenSSL, OpenBLAS, libmicrohttpd and their own dependencies), so that
# bench/gpu/run.sh can run the CLI path (train/predict/evaluate --device cuda) there. Run on the
# development machine (same x86-64, same or older glibc than the GPU machine):
#
#   bench/gpu/pack-cli.sh BUILD_DIR OUTDIR     # e.g. bench/gpu/pack-cli.sh build-device build-gpu-cli
#
# OUTDIR gets bundle.tar.xz holding seqlora and lib/ (everything ldd lists except the C library's own:
# libc, libm, libdl, libpthread, librt, ld-linux): about 93 MB unpacked (OpenBLAS 35 MB, ICU data 30 MB),
# about 22 MB packed, so that the device tool can carry it (carry ["build-gpu-cli"], 64 MiB in all).
# run.sh finds it through SEQLORA_CLI_BUNDLE (default build-gpu-cli/bundle.tar.xz) and unpacks it with
# Python's tarfile (no xz tool needed there).
set -euo pipefail
build=${1:?usage: bench/gpu/pack-cli.sh BUILD_DIR OUTDIR}
out=${2:?usage: bench/gpu/pack-cli.sh BUILD_DIR OUTDIR}
bin="$build/src/cli/seqlora"
[ -x "$bin" ] || { echo "pack-cli: no $bin (build the seqlora target first)" >&2; exit 2; }
rm -rf "$out"
stage="$out/stage"
mkdir -p "$stage/lib"
cp "$bin" "$stage/seqlora"
ldd "$bin" | awk '/=> \// {print $3}' | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | ld-linux*) ;;
    *) cp -L "$lib" "$stage/lib/" ;;
  esac
done
strip --strip-unneeded "$stage/seqlora" "$stage"/lib/*.so* 2>/dev/null || true
n=$(ls "$stage/lib" | wc -l)
XZ_OPT="-9 -T2" tar -C "$stage" -cJf "$out/bundle.tar.xz" seqlora lib
rm -rf "$stage"
echo "pack-cli: $out/bundle.tar.xz: seqlora + $n libraries, $(du -h "$out/bundle.tar.xz" | cut -f1)"
