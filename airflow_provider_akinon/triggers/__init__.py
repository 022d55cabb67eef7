"""Triggers: new orders since a date (the deferrable sensor's), and new orders by id (events)."""

from __future__ import annotations
