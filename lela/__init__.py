"""lela: Local Error Learning Accelerator."""

__version__ = "0.1.0"
