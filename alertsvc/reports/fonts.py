"""The Japanese font every PDF we make embeds (FAX pages, door-knock sheets).

Found at run time among Debian's Japanese fonts (``fonts-ipaexfont-gothic`` first, then
IPA, Noto CJK, Takao), or through ``fc-match`` for any other installed Japanese font.
fpdf2 embeds the subset it uses, so the PDFs print and extract (``pdftotext``) anywhere.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from alertsvc.errors import ConfigError

__all__ = ["FONT_CANDIDATES", "FontChoice", "find_japanese_font"]

# (path, index in a font collection); Noto Sans CJK's collection holds JP at index 0
FontChoice = tuple[Path, int]
FONT_CANDIDATES: tuple[FontChoice, ...] = (
    (Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"), 0),
    (Path("/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf"), 0),
    (Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"), 0),
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 0),
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJKjp-Regular.otf"), 0),
    (Path("/usr/share/fonts/truetype/takao-gothic/TakaoGothic.ttf"), 0),
)
_CJK_NAME_HINTS = ("cjk", "ipa", "gothic", "mincho", "takao", "vl-")


def find_japanese_font(candidates: tuple[FontChoice, ...] = FONT_CANDIDATES) -> FontChoice:
    """The first installed Japanese font as (path, collection index).

    Raises ``ConfigError`` naming the Debian package to install when there is none.
    """
    for path, index in candidates:
        if path.is_file():
            return path, index
    fc_match = shutil.which("fc-match")
    if fc_match and candidates is FONT_CANDIDATES:
        found = subprocess.run(
            [fc_match, "-f", "%{file}\n%{index}", ":lang=ja"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.split("\n")
        # fc-match falls back to any font: keep it only if it is a CJK one
        if (
            len(found) == 2
            and found[0].lower().endswith((".ttf", ".otf", ".ttc"))
            and any(k in Path(found[0]).name.lower() for k in _CJK_NAME_HINTS)
        ):
            return Path(found[0]), int(found[1] or 0)
    raise ConfigError(
        "no Japanese font found for the PDF: install fonts-ipaexfont-gothic "
        "(apt-get install fonts-ipaexfont-gothic) or fonts-noto-cjk"
    )
