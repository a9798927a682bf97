"""Property harnesses: each wraps one block of ``lela.rtl`` with ``Assert``,
``Assume`` and ``Cover`` statements for :func:`lela.sim.formal.run_check`.

Conventions
-----------
* Every input port of the block under test is a top-level port of the
  harness (:meth:`Harness.free_inputs`), so the solver picks a new value for
  it every cycle; ``Assume`` statements narrow that to the block's documented
  input contract. Nothing is tied to a constant behind the check's back.
* Amaranth 0.5 has no ``Past``: :meth:`Harness.past` keeps explicit,
  reset-less previous-cycle registers. A property about "the previous cycle"
  holds only when there was one and it was not a reset cycle
  (:attr:`Harness.ok_past`).
* The reset is free (asserted whenever the solver likes) unless a harness
  says otherwise (``free_reset = False``, an ``Assume(~rst)``); the docs list
  which ones.
* Reference values are written from the numeric contract
  (``docs/numerics.md``), not from ``lela.rtl.numerics``: a clamp is
  ``min(max(x, lo), hi)`` on an exact value, and an exact round-half-up is a
  free value pinned by its defining inequality (:meth:`Harness.rounded`).
* Internal signals are reached by name (:func:`probe`); a renamed signal
  makes the harness fail to build, loudly, never pass silently.
"""

from .axi import PacketFifoHarness
from .base import Harness, clamp, free_inputs, implies, probe, state_value
from .error_unit import ErrorHandshakeHarness, ErrorStagesHarness
from .layer import LayerHarness
from .lfsr import LfsrHarness, LfsrReplayHarness
from .mac_array import MacArrayHarness
from .network import InputBufferHarness, NetworkHarness
from .stages import EDGE_STAGES, SatStage, StageHarness, contract_stages
from .update_unit import UpdateUnitHarness

__all__ = [
    "EDGE_STAGES",
    "ErrorHandshakeHarness",
    "ErrorStagesHarness",
    "Harness",
    "InputBufferHarness",
    "LayerHarness",
    "LfsrHarness",
    "LfsrReplayHarness",
    "MacArrayHarness",
    "NetworkHarness",
    "PacketFifoHarness",
    "SatStage",
    "StageHarness",
    "UpdateUnitHarness",
    "clamp",
    "contract_stages",
    "free_inputs",
    "implies",
    "probe",
    "state_value",
]
