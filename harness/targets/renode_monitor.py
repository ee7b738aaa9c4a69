"""Renode's telnet Monitor, as ``harness/targets/renode.py`` uses it: a client, and reading what the start-up script
printed there.

Renode runs the script named on its command line by typing ``i @<script>`` into the Monitor once the shell starts;
the script's commands are not echoed, their errors are written to the Monitor only (never to the log), the script
stops at the first failing line, and the prompt then returns. What the Monitor writes before a client connects is
queued and sent to the first client. ``tests/harness/targets/renode_standin.py`` reproduces this (with the source
it was read from).
"""

from __future__ import annotations

import re
import select
import socket
import time
from pathlib import Path

from harness.errors import TargetError, TargetTimeout

IAC, SB, SE = 255, 250, 240
_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
_PROMPT = re.compile(r"\([^()\r\n]+\) ?$")
_PROMPT_LINE = re.compile(r"\([\w.-]+\)(?: |$)")  # a line the prompt starts (alone, or with an echoed command)

# How the Monitor's error lines start (it has no status codes; with --plain there are no colours either).
EXECUTION_ERROR = "There was an error executing command '"
NO_SUCH = "No such command or device: "
TOKENIZE = "Could not tokenize here:"
BAD_PARAMETERS = "Bad parameters for command "
OTHER_ERRORS = ("No such variable: $", "Could not find file '", "Failed to download ",
                "Errors during compilation or loading:", "No machine selected.")
MONITOR_ERRORS = (EXECUTION_ERROR.rstrip("'"), NO_SUCH.rstrip(), TOKENIZE, BAD_PARAMETERS.rstrip(), *OTHER_ERRORS)


def strip_telnet(data: bytes) -> bytes:
    """``data`` without telnet commands (IAC sequences, sub-negotiations) and ANSI colour/cursor codes; IAC IAC is
    a literal 0xFF. An incomplete sequence at the end is dropped."""
    out, i = bytearray(), 0
    while i < len(data):
        if data[i] != IAC:
            out.append(data[i])
            i += 1
        elif i + 1 >= len(data):
            break
        elif data[i + 1] == IAC:
            out.append(IAC)
            i += 2
        elif data[i + 1] == SB:
            end = data.find(bytes([IAC, SE]), i + 2)
            i = len(data) if end < 0 else end + 2
        else:
            i += 3 if 251 <= data[i + 1] <= 254 else 2  # WILL/WONT/DO/DONT carry an option byte
    return _ANSI.sub(b"", bytes(out))


def monitor_reply(text: str, command: str) -> str | None:
    """What the Monitor printed for ``command`` once its prompt has come back after the echoed command (the
    telnet Monitor echoes input), else None: there is no status code, a command is done when the prompt returns."""
    at = text.find(command)
    if at < 0:
        return None
    rest = text[at + len(command):].replace("\r", "")
    prompt = _PROMPT.search(rest)
    return rest[:prompt.start()].strip() if prompt else None


# ---- the start-up script's transcript -------------------------------------------------------------------------


def script_finished(transcript: str, machine: str) -> bool:
    """Whether the prompt came back after the start-up script: the shell prints ``(monitor) `` before it types the
    ``include``, and after it ``(<machine>) `` (or ``(monitor) `` again if the script failed before ``mach create``)."""
    return f"({machine}) " in transcript or transcript.count("(monitor) ") >= 2


def _normal(command: str) -> str:
    return " ".join(command.split())


def _script_line(script: str, command: str | None, first_word: str | None = None) -> int | None:
    """The 1-based line of ``script`` holding ``command`` (the Monitor quotes it with single spaces between its
    tokens), or the first line starting with ``first_word``."""
    lines = [_normal(line) for line in script.splitlines()]
    if command:
        for exact in (True, False):
            for number, line in enumerate(lines, 1):
                if (line == _normal(command)) if exact else (_normal(command) in line):
                    return number
    if first_word:
        for number, line in enumerate(lines, 1):
            if line.split(" ", 1)[0] == first_word:
                return number
    return None


def _is_error(line: str) -> bool:
    return line.startswith((EXECUTION_ERROR, NO_SUCH, TOKENIZE, BAD_PARAMETERS, *OTHER_ERRORS))


def script_failure(transcript: str, script: Path) -> str | None:
    """One line naming the line of ``script`` the Monitor reported an error for, the command and Renode's words
    (``Renode could not run …/run.resc line 2: 'machine LoadPlatformDescription @…': Could not find file …``), or
    None if the transcript has no error. Only the first error counts: a failing macro line is reported again for
    the ``runMacro`` that ran it."""
    lines = [line.strip() for line in transcript.replace("\r", "\n").split("\n") if line.strip()]
    at = next((i for i, line in enumerate(lines) if _is_error(line)), None)
    if at is None:
        return None
    first, rest = lines[at], []
    for line in lines[at + 1:]:
        if line.startswith((EXECUTION_ERROR, NO_SUCH, TOKENIZE, BAD_PARAMETERS)) or _PROMPT_LINE.match(line):
            break
        rest.append(line)
    command, first_word = None, None
    if first.startswith(EXECUTION_ERROR):
        command, detail = first[len(EXECUTION_ERROR):].removesuffix("'"), " / ".join(rest)
    elif first.startswith(NO_SUCH):
        first_word, detail = first[len(NO_SUCH):], first
    elif first.startswith(TOKENIZE):
        command = rest[0] if rest else None
        detail = " / ".join([TOKENIZE.rstrip(":"), *[r for r in rest[1:] if r.strip() != "^"]])
    elif first.startswith(BAD_PARAMETERS):
        command, detail = first[len(BAD_PARAMETERS):], "Bad parameters"
    else:
        detail = " / ".join([first, *rest])
    try:
        text = script.read_text(errors="replace")
    except OSError:
        text = ""
    number = _script_line(text, command, first_word)
    where = f"{script} line {number}" if number else str(script)
    quoted = command or (text.splitlines()[number - 1].strip() if number else None)
    head = f"Renode could not run {where}: " + (f"'{quoted}': " if quoted else "")
    return (head + (detail or "(no details)"))[:500]


# ---- the client -----------------------------------------------------------------------------------------------


class MonitorClient:
    """Renode's telnet Monitor: send a command, read until the prompt returns (negotiation and colours stripped).
    Renode serves one client at a time (a second one waits, silent, until the first leaves): keep this one."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.raw = b""

    @classmethod
    def attempt(cls, port: int) -> MonitorClient | None:
        """One connection attempt; None while nothing listens on ``port``."""
        try:
            return cls(socket.create_connection(("127.0.0.1", port), timeout=1.0))
        except OSError:
            return None

    @classmethod
    def connect(cls, port: int, timeout: float = 10.0) -> MonitorClient:
        """Connected within ``timeout`` (TargetError otherwise); waits up to 5 s for a first prompt, which only
        comes if Renode queued output for this client."""
        deadline = time.monotonic() + timeout
        while (client := cls.attempt(port)) is None:
            if time.monotonic() > deadline:
                raise TargetError(f"Renode monitor on port {port} refused the connection")
            time.sleep(0.1)
        try:
            client._read_until(lambda text: _PROMPT.search(text.replace("\r", "")) is not None, 5.0)
        except TargetTimeout:
            pass  # no prompt on connect: commands still wait for their own echo and prompt
        return client

    @property
    def text(self) -> str:
        return strip_telnet(self.raw).decode(errors="replace")

    def pump(self, wait: float) -> str:
        """What the Monitor sent so far, after waiting up to ``wait`` s for more; TargetError once it closed."""
        if select.select([self.sock], [], [], wait)[0]:
            try:
                chunk = self.sock.recv(65536)
            except OSError as exc:
                raise TargetError(f"Renode monitor connection failed: {exc}") from exc
            if not chunk:
                raise TargetError(f"Renode monitor closed the connection: {self.text[-200:]!r}")
            self.raw += chunk
        return self.text

    def _read_until(self, done, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while not done(text := self.text):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TargetTimeout(f"Renode monitor gave no prompt within {timeout:g} s: {text[-200:]!r}")
            self.pump(left)
        return text

    def command(self, command: str, timeout: float = 10.0) -> str:
        """Run ``command``; its output, or TargetError quoting the Monitor's error text."""
        self._discard_pending()  # a late prompt or log line must not be taken for this command's reply
        self.sock.sendall(command.encode() + b"\n")  # AntShell takes CR or LF as Enter: send one, not both
        text = self._read_until(lambda t: monitor_reply(t, command) is not None, timeout)
        reply = monitor_reply(text, command)
        if any(e in reply for e in MONITOR_ERRORS):
            raise TargetError(f"Renode monitor: `{command}` failed: {' / '.join(reply.splitlines()[-2:])[:300]}")
        return reply

    def _discard_pending(self) -> None:
        self.sock.setblocking(False)
        try:
            while self.sock.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        finally:
            self.sock.setblocking(True)
            self.raw = b""

    def quit(self, timeout: float = 3.0) -> None:
        """``quit`` ends Renode; returns once it closed the connection (or after ``timeout``)."""
        try:
            self.sock.sendall(b"quit\n")
            self.sock.settimeout(timeout)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.sock.recv(4096):
                pass
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()


__all__ = ["MONITOR_ERRORS", "MonitorClient", "monitor_reply", "script_failure", "script_finished", "strip_telnet"]
