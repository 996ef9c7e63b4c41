"""shenzi's wheels example: real PyPI wheels with bundled native libraries.

numpy (with its bundled OpenBLAS), Pillow (libjpeg, libpng/zlib, ...), lxml (libxml2,
libxslt) and cryptography (OpenSSL in a Rust extension), each doing a little
deterministic work, plus a `sys.executable` child that imports numpy again. Prints one
line per check.
"""

import _shenzi_maps  # test hook of tests/e2e_hidden.rs: inert unless HIDDEN_WORLD_DUMP_DIR is set

import hashlib
import io
import json
import subprocess
import sys

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree
from PIL import Image, ImageDraw, ImageFilter

STYLESHEET = b"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text"/>
  <xsl:template match="/shop">
    <xsl:for-each select="item"><xsl:sort select="@price" data-type="number"/>
      <xsl:value-of select="."/><xsl:text> </xsl:text>
    </xsl:for-each>
  </xsl:template>
</xsl:stylesheet>"""


def main():
    a = np.arange(1.0, 10.0).reshape(3, 3) + 2 * np.eye(3)
    x = np.linalg.solve(a, np.array([1.0, 2.0, 3.0]))  # LAPACK, from the bundled OpenBLAS
    print("numpy solve:", " ".join("%.6f" % v for v in x))
    print("numpy matmul trace:", int(np.trace(a @ a)))
    print("numpy fft:", " ".join("%.3f" % v for v in np.abs(np.fft.fft([1.0, 2.0, 3.0, 4.0]))))

    img = Image.new("RGB", (64, 48), (10, 20, 30))
    ImageDraw.Draw(img).rectangle((8, 8, 40, 30), fill=(200, 100, 50))
    img = img.filter(ImageFilter.GaussianBlur(2))
    png = io.BytesIO()
    img.save(png, "PNG")
    print("pillow png roundtrip:", Image.open(io.BytesIO(png.getvalue())).convert("RGB").tobytes() == img.tobytes())
    jpeg = io.BytesIO()
    img.save(jpeg, "JPEG", quality=90)
    decoded = Image.open(io.BytesIO(jpeg.getvalue())).convert("RGB")
    print("pillow jpeg:", decoded.size, hashlib.sha256(decoded.tobytes()).hexdigest()[:16])

    shop = etree.fromstring(b"<shop><item price='5'>cake</item><item price='3'>tea</item></shop>")
    print("lxml xpath:", shop.xpath("sum(//item/@price)"))
    print("lxml xslt:", str(etree.XSLT(etree.fromstring(STYLESHEET))(shop)).strip())

    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"shenzi")
    print("cryptography sha256:", digest.finalize().hex()[:16])
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    signature = key.sign(b"shenzi")
    key.public_key().verify(signature, b"shenzi")
    print("cryptography ed25519:", signature.hex()[:16])
    sealed = AESGCM(bytes(16)).encrypt(bytes(12), b"hello", None)
    print("cryptography aes-gcm:", sealed.hex())

    child = subprocess.run(
        [sys.executable, "-m", "wheels_child", "ping"],
        capture_output=True,
        text=True,
        check=True,
    )
    print("subprocess child:", child.stdout.strip())

    print(json.dumps({"argv": sys.argv[1:]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
