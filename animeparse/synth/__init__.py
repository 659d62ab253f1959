"""Procedural anime character renderer with exact part labels."""
