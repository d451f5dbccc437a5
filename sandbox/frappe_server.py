"""The Frappe test stand-in's former module name, kept so existing imports keep working; the
stand-in lives in the `sandbox.frappe` package (one module per job). Import from there."""

from sandbox.frappe import *  # noqa: F403
from sandbox.frappe import __all__  # noqa: F401
