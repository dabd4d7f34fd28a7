"""Destinations (``airbyte.destinations``)."""

from airbyte_rs._native import Destination, get_destination, get_noop_destination

__all__ = ["Destination", "get_destination", "get_noop_destination"]
