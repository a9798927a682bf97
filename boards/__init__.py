"""Board gateware: the board tops, the host link, the UART and the clocking.

Each board is one file (``icebreaker.py``, ``ulx3s.py``, ``ecpix5.py``) that declares what
the rest of lela needs about it: its platform, FPGA family, resource cells,
clock, bitstream and programmer; the boards of a family share its facts
(``ecp5.py``). :data:`BOARDS` is the one registry of them;
:func:`board_module` looks one up.
"""

import importlib

__all__ = ["BOARDS", "board_module"]

#: Board name -> module with its board file.
BOARDS = {"icebreaker": "lela.boards.icebreaker", "ulx3s": "lela.boards.ulx3s",
          "ecpix5": "lela.boards.ecpix5"}


def board_module(name):
    """The module of board ``name`` (its board file); ValueError naming the boards."""
    if name not in BOARDS:
        raise ValueError(f"board must be one of {', '.join(BOARDS)}, not {name!r}")
    return importlib.import_module(BOARDS[name])
