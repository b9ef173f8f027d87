"""imageio: images and videos read and written, through the v2 and v3 APIs.

The top-level functions are v2's (imageio.imread warns and calls v2's own); each public
binding is declared, so the logged name is the one the script called. A uri that is no
local file (an URL, "imageio:chelsea.png", "<bytes>", "<video0>") logs nothing."""

from __future__ import annotations

from ..patching import Closes, Input, Opens, Output, expanding_user

READERS = ("imread", "mimread", "volread", "mvolread", "get_reader")
WRITERS = ("imwrite", "imsave", "mimwrite", "mimsave", "volwrite", "volsave", "mvolwrite",
           "mvolsave")

# imageio expands a leading ~ in every uri it takes (core.request.Request).
DECLARATIONS = expanding_user([
    *(Input(module, reader, "uri") for module in ("imageio", "imageio.v2")
      for reader in READERS),
    *(Output(module, writer, "uri") for module in ("imageio", "imageio.v2")
      for writer in WRITERS),
    *(Input("imageio.v3", reader, "uri") for reader in ("imread", "imiter", "improps", "immeta")),
    Output("imageio.v3", "imwrite", "uri"),
    # A writer object collects frames; the file is complete once it is closed (pillow
    # writes a GIF only then, through PIL's Image.save, not logged again).
    *(Output(module, "get_writer", "uri", until_closed=True)
      for module in ("imageio", "imageio.v2")),
    Closes("imageio.v2", "LegacyWriter.close", lambda writer: writer.instance.request.filename),
    Opens("imageio.v3", "imopen", "uri", mode="io_mode"),
    Closes("imageio.plugins.pillow", "PillowPlugin.close", lambda plugin: plugin.request.filename),
])
