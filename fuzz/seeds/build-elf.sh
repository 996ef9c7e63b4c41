#!/usr/bin/env bash
# Rebuilds the ELF seeds: small gcc-built objects with what the reader and the editor
# look at (SONAME, NEEDED, RUNPATH or RPATH, symbol versions, an interpreter). Kept in
# git so the seed corpus is the same everywhere; run this only to change them.
set -euo pipefail
cd "$(dirname "$0")/elf"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/seed.c" <<'C'
#include <math.h>
#include <stdio.h>
double seed_value(double x) { printf("%f\n", x); return sqrt(x); }
C
cat > "$work/main.c" <<'C'
double seed_value(double x);
int main(void) { return (int)seed_value(4.0) - 2; }
C
flags=(-Os -g0 -fno-asynchronous-unwind-tables)
gcc "${flags[@]}" -shared -fPIC -Wl,-soname,libseed.so.1 -Wl,--enable-new-dtags \
    -Wl,-rpath,'$ORIGIN/../lib' -o libseed.so.1 "$work/seed.c" -lm
gcc "${flags[@]}" -shared -fPIC -Wl,-soname,libseed-rpath.so -Wl,--disable-new-dtags \
    -Wl,-rpath,/opt/seed/lib -o libseed-rpath.so "$work/seed.c" -lm
gcc "${flags[@]}" -fPIE -pie -o app-pie "$work/main.c" -L. -l:libseed.so.1 \
    -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN'
gcc "${flags[@]}" -no-pie -o app-exec "$work/main.c" -L. -l:libseed.so.1
strip -s -o libseed-stripped.so libseed.so.1
ls -l libseed.so.1 libseed-rpath.so app-pie app-exec libseed-stripped.so
