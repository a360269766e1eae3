"""Shared pytest set-up: a headless matplotlib backend and float64 torch by default."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
