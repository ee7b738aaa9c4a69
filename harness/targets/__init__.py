"""Where firmware runs: emulators (QEMU, Renode) and boards (pyOCD)."""
