"""Perpetual swap venues (SPEC §4b): one module per venue over the adapter in common.py."""
