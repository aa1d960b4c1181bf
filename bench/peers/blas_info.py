#!/usr/bin/env python3
"""Prints the BLAS that numpy (and scipy) load here, as threadpoolctl sees it, for the header
of bench/peers.sh's reports: one line per BLAS library,
    internal_api VERSION (threading_layer, architecture ARCH, N threads) FILEPATH
or "none detected (...)" when threadpoolctl finds none, which is the case for Debian's
reference libblas3 (threadpoolctl knows OpenBLAS, MKL, BLIS and FlexiBLAS only).
bench/peers.sh runs it under the same environment as its timed runs, so `architecture` is the
kernel OpenBLAS picks for them (OPENBLAS_CORETYPE, when set, forces it)."""
import os

import numpy  # noqa: F401  (loads numpy's BLAS, which threadpoolctl then finds)

try:
    import scipy.linalg  # noqa: F401  (scipy links the same libblas.so.3 on Debian)
except ImportError:
    pass

from threadpoolctl import threadpool_info


def main():
    found = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not found:
        link = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
        print(f"none detected by threadpoolctl (libblas.so.3 -> {link})")
        return
    for info in found:
        extras = [info.get("threading_layer") or "", f"architecture {info.get('architecture') or '?'}",
                  f"{info.get('num_threads')} threads"]
        print(f"{info.get('internal_api')} {info.get('version') or '?'} "
              f"({', '.join(e for e in extras if e)}) {info.get('filepath')}")


if __name__ == "__main__":
    main()
