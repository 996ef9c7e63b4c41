"""The benchmark app: imports numpy, PIL, lxml and cryptography and uses each a little.

Its first line, "ready", is printed before any import so that startup to first output
measures the interpreter (and launcher) alone; the results follow, and they are the
same wherever the app runs (venv, shenzi dist, PyInstaller onedir).
"""

print("ready", flush=True)

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from lxml import etree  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402


def main():
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    print("numpy dot:", (a @ a.T).trace())

    img = Image.new("RGB", (64, 32), (10, 20, 30))
    img.putpixel((3, 4), (200, 100, 50))
    print("pil:", img.size, img.convert("L").getpixel((3, 4)), sum(img.getchannel("R").histogram()))

    root = etree.fromstring(b"<items><item n='1'>a</item><item n='2'>b</item></items>")
    print("lxml:", [(e.get("n"), e.text) for e in root.iter("item")])

    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"shenzi")
    print("cryptography sha256:", digest.finalize().hex())


if __name__ == "__main__":
    main()
