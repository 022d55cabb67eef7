"""Test-only servers and helpers (not shipped with the provider)."""
