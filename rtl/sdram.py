"""The ULX3S's SDR SDRAM through LiteDRAM: the standalone controller core
generated from Python, wrapped as an Amaranth ``Instance`` behind lela-style
streams, with the clock-domain crossing its clock needs (docs/sdram.md).

:func:`generate_core` writes LiteDRAM's YAML from :class:`SdramConfig` (one
place for the module, PHY and clock) and runs ``python -m litedram.gen`` on it
(the pinned ``sdram`` extra), in two variants: ``sim=True`` (``--sim``: the
controller with LiteDRAM's ``SDRAMPHYModel`` in one Verilog file) and the
board's (GENSDRPHY on the ECP5's I/O cells). Its output is cached under a
folder keyed by the YAML, the variant and LiteDRAM's version.

:class:`LiteDram` instantiates the generated core in its own clock domain (the
LiteDRAM system clock, ``domain``), runs the SDRAM's initialisation on the
core's Wishbone control bus (:class:`InitSequencer`, the sequence LiteX's BIOS
runs, read from the generated ``sdram_phy.h``), and crosses the native user
port to lela's ``sync`` domain with an ``AsyncFIFO`` on each stream.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.hdl import (
    ClockSignal,
    Const,
    DomainRenamer,
    Instance,
    Module,
    ResetSignal,
    Signal,
)
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from .params import invalid

__all__ = ["ADDRESS_WIDTH", "DATA_WIDTH", "MASK_WIDTH", "MODULE", "WORDS", "GeneratedCore",
           "InitSequencer", "LiteDram", "SdramConfig", "check_address", "cmd_layout",
           "generate_core", "wdata_layout"]

# --- the memory ---------------------------------------------------------------

#: The SDRAM part: litex-boards' ``radiona_ulx3s`` default (most boards carry an
#: IS42S16160G, which works with its settings).
MODULE = "MT48LC16M16"
#: Its geometry (datasheet; litedram.modules.MT48LC16M16 has the same):
#: 4 banks x 8192 rows x 512 columns of 16 bits.
BANKS, ROWS, COLUMNS = 4, 8192, 512
#: Width of a native-port word (the chip's DQ bus) and of its byte mask.
DATA_WIDTH = 16
MASK_WIDTH = DATA_WIDTH // 8
#: Words behind the native port (32 MB) and the width of its word address.
WORDS = BANKS * ROWS * COLUMNS
ADDRESS_WIDTH = (WORDS - 1).bit_length()
#: The PHY: single data rate, one command per system clock (SDRAM clock phase
#: shifted 90 degrees by the board), CAS latency 2.
PHY = "GENSDRPHY"
#: The system clock range accepted. Upper bound: GENSDRPHY runs the chip at
#: CAS latency 2, which the MT48LC16M16A2-75 (and IS42S16160G-7) allow up to
#: tCK = 10 ns. Lower bound: the controller's refresh timer counts tREFI
#: (7.8 us) in system clocks; below 1 MHz it would have fewer than 8.
SYS_CLK_RANGE_HZ = (1_000_000, 100_000_000)
#: The ULX3S's FPGA (the board variant's platform).
DEVICE = "LFE5U-85F-6BG381C"
#: The generated core's module name and its one native user port.
CORE_NAME = "litedram_core"
PORT_NAME = "native_0"


def check_address(addr):
    """``addr`` as a native-port word address; ValueError naming it if it is
    not an integer in ``[0, WORDS)``."""
    if not isinstance(addr, int) or isinstance(addr, bool) or not 0 <= addr < WORDS:
        raise ValueError(f"SDRAM word address must be an integer in [0, {WORDS:#x}) "
                         f"({WORDS} words of {DATA_WIDTH} bits), not {addr!r}")
    return addr


@dataclass(frozen=True)
class SdramConfig:
    """The LiteDRAM core's parameters: the facts every variant shares.

    Parameters
    ----------
    sys_clk_hz : int
        LiteDRAM's system clock (the ``domain`` of :class:`LiteDram`) in Hz,
        within :data:`SYS_CLK_RANGE_HZ`; 50 MHz is litex-boards' default.
    """

    sys_clk_hz: int = 50_000_000

    def __post_init__(self):
        lo, hi = SYS_CLK_RANGE_HZ
        hz = self.sys_clk_hz
        if not isinstance(hz, int) or isinstance(hz, bool) or not lo <= hz <= hi:
            raise ValueError(f"sys_clk_hz must be an integer in [{lo}, {hi}] Hz, not {hz!r}")

    def core_config(self, *, sim):
        """LiteDRAM's generator configuration (its YAML, as a dict): no CPU,
        SDR, the module, GENSDRPHY, one native user port; the board variant
        names the FPGA."""
        cfg = {
            "cpu": "None",
            "memtype": "SDR",
            "sdram_module": MODULE,
            # the number of byte lanes: a 16-bit chip is two
            "sdram_module_nb": DATA_WIDTH // 8,
            "sdram_phy": PHY,
            "sys_clk_freq": self.sys_clk_hz,
            "user_ports": {PORT_NAME: {"type": "native"}},
        }
        if not sim:
            cfg["device"] = DEVICE
        return cfg

    def yaml(self, *, sim):
        """The YAML file's text (JSON is YAML; sorted, so equal configurations
        give equal files and equal cache keys)."""
        return json.dumps(self.core_config(sim=sim), indent=2, sort_keys=True) + "\n"


# --- generation ---------------------------------------------------------------

#: Where generated cores are cached (relative to the working directory).
BUILD_ROOT = Path("build") / "sdram"
#: The files a generation must leave, relative to its output folder.
VERILOG = Path("gateware") / f"{CORE_NAME}.v"
CSR_CSV = Path("csr.csv")
PHY_HEADER = Path("software") / "include" / "generated" / "sdram_phy.h"

# The DFII control values of LiteX's liblitedram (sdram.c): software control
# (CKE, ODT and RESET_N driven from the CSR, sel = 0) and hardware control.
_DFII_SOFTWARE = ("DFII_CONTROL_CKE", "DFII_CONTROL_ODT", "DFII_CONTROL_RESET_N")
_DFII_HARDWARE = ("DFII_CONTROL_SEL",)


@dataclass(frozen=True)
class GeneratedCore:
    """A generated LiteDRAM core: its files and what the wrapper reads from them.

    Attributes
    ----------
    sim : bool
        ``SDRAMPHYModel`` inside (True) or the board's GENSDRPHY.
    folder : Path
        The generator's output folder.
    verilog : Path
        The core's Verilog (module :data:`CORE_NAME`).
    ports : dict
        ``{name: (direction, width)}`` of the core's module, from its header.
    csr : dict
        ``{register: byte address}`` on the control bus, from ``csr.csv``.
    init : tuple
        The initialisation as ``("write", register, value)`` and
        ``("delay", cycles)`` steps (see :func:`init_steps`).
    seconds : float
        Generation time (0 when the cache had it).
    """

    sim: bool
    folder: Path
    verilog: Path
    ports: dict
    csr: dict
    init: tuple
    seconds: float


def _litedram_version():
    if importlib.util.find_spec("litedram") is None:
        raise RuntimeError("litedram is not installed (pip install -e '.[sdram]')")
    return importlib.metadata.version("litedram")


def core_folder(cfg, *, sim, root=BUILD_ROOT):
    """The cache folder of ``cfg``'s core: keyed by the YAML, the variant and
    LiteDRAM's version."""
    key = json.dumps({"yaml": cfg.yaml(sim=sim), "sim": sim,
                      "litedram": _litedram_version()}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path(root) / f"{'sim' if sim else 'board'}-{digest}"


def generate_core(cfg=None, *, sim, root=BUILD_ROOT):
    """Generate (or take from the cache) the LiteDRAM core of ``cfg``
    (default :class:`SdramConfig`); return a :class:`GeneratedCore`.

    The generator runs in a folder of its own, which is renamed into place only
    when every expected file is there, so an interrupted run is never cached.
    """
    cfg = SdramConfig() if cfg is None else cfg
    if not isinstance(cfg, SdramConfig):
        raise TypeError(f"cfg must be a lela.rtl.sdram.SdramConfig, not {cfg!r}")
    folder = core_folder(cfg, sim=sim, root=root).resolve()
    seconds = 0.0
    if not all((folder / f).exists() for f in (VERILOG, CSR_CSV, PHY_HEADER)):
        t0 = time.perf_counter()
        work = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        (work / "core.yml").write_text(cfg.yaml(sim=sim))
        cmd = [sys.executable, "-m", "litedram.gen", "core.yml", "--no-compile",
               "--output-dir", ".", "--name", CORE_NAME] + (["--sim"] if sim else [])
        with open(work / "gen.log", "w") as log:
            done = subprocess.run(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT,
                                  check=False)
        # with the pinned pythondata-misc-tapcfg the --sim build ends cleanly:
        # any non-zero exit is a failure, even if the files were written
        missing = [str(f) for f in (VERILOG, CSR_CSV, PHY_HEADER) if not (work / f).exists()]
        if done.returncode or missing:
            last = (work / "gen.log").read_text().strip().splitlines()[-1:] or [""]
            raise RuntimeError(f"litedram.gen failed (exit {done.returncode}, missing "
                               f"{missing or 'nothing'}): {last[0]}; see {work / 'gen.log'}")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(work, folder)
        seconds = time.perf_counter() - t0
    ports = parse_ports((folder / VERILOG).read_text())
    csr = parse_csr((folder / CSR_CSV).read_text())
    init = init_steps((folder / PHY_HEADER).read_text())
    _check_geometry(ports)
    return GeneratedCore(sim=sim, folder=folder, verilog=folder / VERILOG, ports=ports,
                         csr=csr, init=init, seconds=seconds)


def parse_ports(verilog_text):
    """``{name: (direction, width)}`` of the module header LiteX writes
    (``input  wire   [23:0] name,``)."""
    header = verilog_text.split(f"module {CORE_NAME} (", 1)
    if len(header) != 2:
        raise RuntimeError(f"no module {CORE_NAME} in the generated Verilog")
    ports = {}
    for line in header[1].split(");", 1)[0].splitlines():
        found = re.fullmatch(r"\s*(input|output|inout)\s+wire\s+(?:\[(\d+):0\]\s+)?(\w+),?\s*",
                             line)
        if found:
            ports[found[3]] = (found[1], int(found[2]) + 1 if found[2] else 1)
    return ports


def parse_csr(csv_text):
    """``{register: byte address}`` from LiteX's ``csr.csv``."""
    return {row[1]: int(row[2], 0) for row in
            (line.split(",") for line in csv_text.splitlines())
            if row[0] == "csr_register"}


def _check_geometry(ports):
    want = {f"user_port_{PORT_NAME}_cmd_addr": ADDRESS_WIDTH,
            f"user_port_{PORT_NAME}_wdata_data": DATA_WIDTH,
            f"user_port_{PORT_NAME}_wdata_we": MASK_WIDTH,
            f"user_port_{PORT_NAME}_rdata_data": DATA_WIDTH}
    for name, width in want.items():
        got = ports.get(name, (None, None))[1]
        if got != width:
            raise RuntimeError(f"the generated core's {name} is {got} bits, not {width}")


def init_steps(header_text):
    """The SDRAM's initialisation as LiteX's BIOS runs it (liblitedram's
    ``sdram_init`` for a PHY without leveling), with the chip's command
    sequence read from the generated ``sdram_phy.h``'s ``init_sequence()``:

    software control of the DFI; ``init_done`` and ``init_error`` cleared;
    ``init_sequence()`` (CKE high and a wait, precharge all, load mode
    register, two auto refreshes, load mode register); hardware control;
    ``init_done`` set. The BIOS's memory test is not run (``init_error`` stays
    0). ``cdelay(n)`` becomes a wait of ``n`` system clocks: 20,000 clocks is
    400 us at 50 MHz (the chip asks 100 us after power-up), and each command
    is four Wishbone writes apart from the next, more than tRP, tMRD and tRFC.
    Returns ``("write", register, value)`` and ``("delay", cycles)`` tuples.
    """
    defines = {name: int(value, 0) for name, value in
               re.findall(r"#define\s+(DFII_\w+)\s+(0x[0-9a-fA-F]+|\d+)", header_text)}

    def value(expr):
        total = 0
        for term in expr.split("|"):
            term = term.strip()
            total |= defines[term] if term in defines else int(term, 0)
        return total

    body = re.search(r"static inline void init_sequence\(void\)\s*\{(.*?)\n\}", header_text,
                     re.DOTALL)
    if body is None:
        raise RuntimeError("no init_sequence() in the generated sdram_phy.h")
    steps = [("write", "sdram_dfii_control", value("|".join(_DFII_SOFTWARE))),
             ("write", "ddrctrl_init_done", 0), ("write", "ddrctrl_init_error", 0)]
    for line in body[1].splitlines():
        line = line.strip()
        if not line or line.startswith("/*"):
            continue
        call = re.fullmatch(r"(\w+)\((.*)\);", line)
        if call is None:
            raise RuntimeError(f"unexpected line in init_sequence(): {line!r}")
        func, arg = call[1], call[2]
        if func == "cdelay":
            steps.append(("delay", value(arg)))
        elif func == "command_p0":       # sdram_phy.h: command, then issue
            steps += [("write", "sdram_dfii_pi0_command", value(arg)),
                      ("write", "sdram_dfii_pi0_command_issue", 1)]
        elif func.startswith("sdram_") and func.endswith("_write"):
            steps.append(("write", func[:-len("_write")], value(arg)))
        else:
            raise RuntimeError(f"unexpected call in init_sequence(): {line!r}")
    steps += [("write", "sdram_dfii_control", value("|".join(_DFII_HARDWARE))),
              ("write", "ddrctrl_init_done", 1)]
    return tuple(steps)


# --- the wrapper --------------------------------------------------------------

#: Payload of a command: a write (``we``) or a read of word ``addr``.
cmd_layout = data.StructLayout({"we": 1, "addr": ADDRESS_WIDTH})
#: Payload of a write's data: the word and its byte enables (bit ``i``: byte ``i``).
wdata_layout = data.StructLayout({"data": DATA_WIDTH, "we": MASK_WIDTH})


class InitSequencer(wiring.Component):
    """A Wishbone master that writes ``steps`` (from :func:`init_steps`) to the
    core's control bus, one after the other, then holds ``done``.

    Parameters
    ----------
    steps : tuple
        ``("write", register, value)`` / ``("delay", cycles)``.
    csr : dict
        ``{register: byte address}`` (the bus is 32 bits wide, word addressed).

    Attributes
    ----------
    wb_adr : Out(30), wb_dat_w : Out(32), wb_cyc, wb_stb, wb_we : Out(1), wb_ack : In(1)
        The control bus (classic cycles, all byte lanes).
    done : Out(1)
        Every step was made.
    """

    def __init__(self, *, steps, csr):
        rows = []
        for step in steps:
            if step[0] == "write":
                if step[1] not in csr:
                    invalid(self, ValueError(f"register {step[1]!r} is not in the core's CSRs"))
                rows.append((1, csr[step[1]] >> 2, step[2]))
            elif step[0] == "delay":
                rows.append((0, 0, step[1]))
            else:
                invalid(self, ValueError(f"step must be a write or a delay, not {step!r}"))
        self._rows = rows
        super().__init__({"wb_adr": Out(30), "wb_dat_w": Out(32), "wb_cyc": Out(1),
                          "wb_stb": Out(1), "wb_we": Out(1), "wb_ack": In(1), "done": Out(1)})

    def elaborate(self, platform):
        """A step counter over a table of the steps, a wait counter."""
        m = Module()
        rows = self._rows
        index = Signal(range(len(rows) + 1))
        wait = Signal(range(max(r[2] for r in rows if not r[0]) + 1))
        is_write, adr, value = Signal(), Signal(30), Signal(32)
        with m.Switch(index):
            for i, (w, a, v) in enumerate(rows):
                with m.Case(i):
                    m.d.comb += [is_write.eq(w), adr.eq(a), value.eq(v)]
        m.d.comb += [self.wb_adr.eq(adr), self.wb_dat_w.eq(value), self.wb_we.eq(1)]
        with m.FSM():
            with m.State("NEXT"):
                with m.If(index == len(rows)):
                    m.next = "DONE"
                with m.Elif(is_write):
                    m.next = "WRITE"
                with m.Else():
                    m.d.sync += wait.eq(value)
                    m.next = "WAIT"
            with m.State("WRITE"):
                m.d.comb += [self.wb_cyc.eq(1), self.wb_stb.eq(1)]
                with m.If(self.wb_ack):
                    m.d.sync += index.eq(index + 1)
                    m.next = "NEXT"
            with m.State("WAIT"):
                m.d.sync += wait.eq(wait - 1)
                with m.If(wait <= 1):
                    m.d.sync += index.eq(index + 1)
                    m.next = "NEXT"
            with m.State("DONE"):
                m.d.comb += self.done.eq(1)
        return m


class LiteDram(wiring.Component):
    """The generated LiteDRAM core behind lela-style streams in the ``sync``
    domain; the core, its initialisation and its side of the crossing in
    ``domain`` (LiteDRAM's system clock, :attr:`SdramConfig.sys_clk_hz`).

    The native port takes a write's data when its controller is ready for it,
    whether or not ``wdata.valid`` is high, and presents read data without
    waiting for ``rdata.ready``; so a write is handed to the core only once its
    data is in the crossing's FIFO, and a read only while the read FIFO has
    room for every read in flight. Reads return in command order.

    Parameters
    ----------
    core : GeneratedCore
        From :func:`generate_core` (its ports, registers and init steps).
    domain : str
        LiteDRAM's clock domain (the parent supplies it).
    fifo_depth : int
        Depth of each crossing FIFO (a power of two, >= 4): also the most
        reads in flight and writes waiting for the controller.
    dq : io.PortLike or None
        The board variant's 16-bit data pins (bidirectional, driven by the
        core's own I/O cells); None for the simulation variant.

    Attributes
    ----------
    cmd : In(stream.Signature(cmd_layout))
        Commands: ``we`` (1 write, 0 read), ``addr`` (word address,
        ``ADDRESS_WIDTH`` bits).
    wdata : In(stream.Signature(wdata_layout))
        One beat per write command, in their order: ``data``, ``we`` (byte enables).
    rdata : Out(stream.Signature(DATA_WIDTH))
        One beat per read command, in their order.
    init_done, init_error : Out(1)
        The core's status (synchronised to ``sync``); commands wait for ``init_done``.
    sdram_a, sdram_ba, sdram_cas_n, sdram_cke, sdram_cs_n, sdram_dm, sdram_ras_n, sdram_we_n : Out
        Board variant only: the chip's pins (the SDRAM clock is the board's:
        the system clock shifted 90 degrees).
    """

    def __init__(self, core, *, domain="sdram", fifo_depth=16, dq=None):
        if not isinstance(core, GeneratedCore):
            invalid(self, TypeError(f"core must be a GeneratedCore, not {core!r}"))
        if not isinstance(domain, str) or domain in ("", "sync", "comb"):
            invalid(self, ValueError(f"domain must be a clock domain other than sync, "
                                     f"not {domain!r}"))
        if (not isinstance(fifo_depth, int) or isinstance(fifo_depth, bool) or fifo_depth < 4
                or fifo_depth & (fifo_depth - 1)):
            invalid(self, ValueError(f"fifo_depth must be a power of two >= 4, "
                                     f"not {fifo_depth!r}"))
        if core.sim != (dq is None):
            invalid(self, ValueError("dq must be given for the board variant and only then"))
        self._core, self._domain, self._depth, self._dq = core, domain, fifo_depth, dq
        members = {"cmd": In(stream.Signature(cmd_layout)),
                   "wdata": In(stream.Signature(wdata_layout)),
                   "rdata": Out(stream.Signature(DATA_WIDTH)),
                   "init_done": Out(1), "init_error": Out(1)}
        if not core.sim:
            members.update({name: Out(width) for name, (direction, width) in core.ports.items()
                            if name.startswith("sdram_") and direction == "output"})
        super().__init__(members)

    #: Geometry of the native port, for users (defined once, above).
    address_width = ADDRESS_WIDTH
    data_width = DATA_WIDTH
    words = WORDS

    @property
    def fifo_depth(self):
        """Depth of each crossing FIFO."""
        return self._depth

    def elaborate(self, platform):
        """Three crossing FIFOs, the hand-over guards, the init sequencer, the core."""
        m = Module()
        dom, depth, core = self._domain, self._depth, self._core
        m.submodules.cmd_fifo = cmd_fifo = fifo.AsyncFIFO(
            width=cmd_layout.size, depth=depth, w_domain="sync", r_domain=dom)
        m.submodules.wdata_fifo = wdata_fifo = fifo.AsyncFIFO(
            width=wdata_layout.size, depth=depth, w_domain="sync", r_domain=dom)
        m.submodules.rdata_fifo = rdata_fifo = fifo.AsyncFIFO(
            width=DATA_WIDTH, depth=depth, w_domain=dom, r_domain="sync")
        init = InitSequencer(steps=core.init, csr=core.csr)
        m.submodules.init = DomainRenamer({"sync": dom})(init)

        # lela's side: the streams into and out of the FIFOs
        m.d.comb += [
            cmd_fifo.w_data.eq(self.cmd.payload), cmd_fifo.w_en.eq(self.cmd.valid),
            self.cmd.ready.eq(cmd_fifo.w_rdy),
            wdata_fifo.w_data.eq(self.wdata.payload), wdata_fifo.w_en.eq(self.wdata.valid),
            self.wdata.ready.eq(wdata_fifo.w_rdy),
            self.rdata.payload.eq(rdata_fifo.r_data), self.rdata.valid.eq(rdata_fifo.r_rdy),
            rdata_fifo.r_en.eq(self.rdata.ready),
        ]

        # LiteDRAM's side
        p = f"user_port_{PORT_NAME}_"
        cmd = data.View(cmd_layout, cmd_fifo.r_data)
        wdata = data.View(wdata_layout, wdata_fifo.r_data)
        cmd_valid, cmd_ready = Signal(), Signal()
        wdata_ready, rdata_valid, rdata_data = Signal(), Signal(), Signal(DATA_WIDTH)
        init_done, init_error = Signal(), Signal()
        # writes handed over whose data the controller has not taken yet, and
        # reads handed over whose data has not come back
        writes = Signal(range(depth + 1))
        reads = Signal(range(depth + 1))
        # the read FIFO's w_level is registered: it misses a word written on
        # the cycle before, which ``arrived`` counts (r_level is combinational)
        arrived = Signal()
        m.d[dom] += arrived.eq(rdata_valid)
        can_write = wdata_fifo.r_level > writes
        can_read = rdata_fifo.w_level + arrived + reads < depth
        m.d.comb += [
            cmd_valid.eq(cmd_fifo.r_rdy & (cmd.we & can_write | ~cmd.we & can_read)),
            cmd_fifo.r_en.eq(cmd_valid & cmd_ready),
            wdata_fifo.r_en.eq(wdata_ready),
            rdata_fifo.w_data.eq(rdata_data), rdata_fifo.w_en.eq(rdata_valid),
        ]
        write_go = cmd_fifo.r_en & cmd.we
        read_go = cmd_fifo.r_en & ~cmd.we
        m.d[dom] += [writes.eq(writes + write_go - wdata_ready),
                     reads.eq(reads + read_go - rdata_valid)]

        ports = {
            "i_clk": ClockSignal(dom),
            f"i_{p}cmd_valid": cmd_valid, f"o_{p}cmd_ready": cmd_ready,
            f"i_{p}cmd_we": cmd.we, f"i_{p}cmd_addr": cmd.addr,
            f"i_{p}wdata_valid": wdata_fifo.r_rdy, f"o_{p}wdata_ready": wdata_ready,
            f"i_{p}wdata_data": wdata.data, f"i_{p}wdata_we": wdata.we,
            f"o_{p}rdata_valid": rdata_valid, f"i_{p}rdata_ready": Const(1),
            f"o_{p}rdata_data": rdata_data,
            "o_init_done": init_done, "o_init_error": init_error,
            "o_wb_ctrl_ack": init.wb_ack, "i_wb_ctrl_adr": init.wb_adr,
            "i_wb_ctrl_dat_w": init.wb_dat_w, "i_wb_ctrl_cyc": init.wb_cyc,
            "i_wb_ctrl_stb": init.wb_stb, "i_wb_ctrl_we": init.wb_we,
            "i_wb_ctrl_sel": Const(0b1111, 4), "i_wb_ctrl_cti": Const(0, 3),
            "i_wb_ctrl_bte": Const(0, 2),
        }
        if core.sim:
            ports["i_sim_trace"] = Const(0)
        else:
            ports["i_rst"] = ResetSignal(dom)
            ports["io_sdram_dq"] = self._dq
            ports.update({f"o_{name}": getattr(self, name) for name, (d, _) in
                          core.ports.items() if name.startswith("sdram_") and d == "output"})
        m.submodules.core = Instance(CORE_NAME, **ports)
        m.submodules.init_done = FFSynchronizer(init_done, self.init_done)
        m.submodules.init_error = FFSynchronizer(init_error, self.init_error)
        return m
