"""Run as `python -m greeter.child`: imports a module the parent never imports."""

import sys
import difflib


def main():
    ratio = difflib.SequenceMatcher(None, "shenzi", "shenzy").ratio()
    print("%s from child, ratio %.2f" % (sys.argv[1], ratio))


if __name__ == "__main__":
    main()
