"""A Pinterest API v5 simulator for tests and the demo, built from the OpenAPI description alone."""

from .config import PINTEREST_RATE_LIMITS, SimulatorConfig
from .data import SimulatorData
from .faults import ERROR_KINDS, Faults
from .server import Simulator, serve_forever

__all__ = [
    "ERROR_KINDS",
    "PINTEREST_RATE_LIMITS",
    "Faults",
    "Simulator",
    "SimulatorConfig",
    "SimulatorData",
    "serve_forever",
]
