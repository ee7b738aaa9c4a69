"""The USB-serial bridges between the host and a board's UART (a board's ``vcp:`` in boards.yaml), with what sets
the rate they really run at. The host asks a bridge for a baud rate; the bridge's own UART makes the nearest rate its
clock divides to, and the board's UART makes its own: the receiver on either side samples the other's bits, so
what must stay small is the difference between the two real rates (``harness.build.cross.check_baud``).

Neither bridge was measured here (no board is attached): the model is the bridge MCU's USART (16x oversampling,
BRR = PCLK / baud, at least 16) at the bus clock its firmware runs it at, as the sources below give them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bridge:
    name: str
    what: str
    pclk_hz: int       # the clock of the bridge MCU's USART
    source: str        # where the facts come from

    def actual(self, baud: int) -> float:
        """The rate the bridge really runs at when asked for ``baud``."""
        return self.pclk_hz / max(16, round(self.pclk_hz / baud))

    @property
    def max_baud(self) -> int:
        return self.pclk_hz // 16


_F103_VCP = ("an STM32F103CBT6 at 72 MHz whose VCP is USART2 (PA2/PA3) on APB1 at 36 MHz",
             "the Nucleo-144 and STM32F4DISCOVERY (MB997D) schematics (ST-LINK's F103 PA2/PA3 to the target); "
             "users report 1,228,800 baud working and 1,843,200 dropping bytes on V2-1, as this model predicts "
             "against an F4 at 180 MHz (docs/notes/pyocd-serial.md)")

BRIDGES = {b.name: b for b in (
    Bridge("stlink-v2-1", "the Nucleo's on-board ST-LINK/V2-1: " + _F103_VCP[0], 36_000_000, _F103_VCP[1]),
    Bridge("stlink-v2-a", "the STM32F407G-DISC1's ST-LINK/V2-A: " + _F103_VCP[0], 36_000_000, _F103_VCP[1]),
)}
