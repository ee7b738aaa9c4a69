"""Labelled test and training scenes built from images that installable packages ship (see fixtures/README.md)."""
