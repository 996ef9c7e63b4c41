"""The example's own package: a data file and work for child processes."""

import sys

import _shenzi_maps  # the test hook, for children that import only this package

if sys.version_info >= (3, 9):
    from importlib.resources import files

    def greeting():
        return files(__name__).joinpath("greeting.txt").read_text(encoding="utf-8").strip()

else:
    from importlib.resources import read_text

    def greeting():
        return read_text(__name__, "greeting.txt", encoding="utf-8").strip()


def spawned_work(n):
    # Imported only in the spawn child, so the trace must follow that child to see it.
    import colorsys

    # A pool worker ends by a signal, not through atexit: record its maps now.
    _shenzi_maps.hidden_world_dump("worker")

    return "%d squared is %d, hue %.2f" % (n, n * n, colorsys.rgb_to_hsv(0.2, 0.4, 0.4)[0])
