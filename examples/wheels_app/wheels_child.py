"""Run as `python -m wheels_child`: a child that loads numpy (and its OpenBLAS) again."""

import _shenzi_maps  # noqa: F401  (the test hook: this child dumps its maps too)

import sys

import numpy as np


def main():
    det = np.linalg.det(np.array([[2.0, 1.0], [1.0, 3.0]]))
    print("%s from child, det %.1f" % (sys.argv[1], det))


if __name__ == "__main__":
    main()
