"""A stand-in ``renode`` for tests/harness/targets/test_renode.py: Renode 1.16.1's command line, telnet Monitor and
socket UART, and a firmware that prints ``|BOOT n|`` on each boot and echoes the UART.

Run as ``python renode_standin.py <renode arguments>``. What it reproduces was read from Renode's source (renode
v1.16.1 = d66b0c2aa, its renode-infrastructure submodule add012af, AntShell faa6e88; paths in those repositories):
- start-up (``src/UI/CommandLineInterface.cs``): the pid file is written, the Monitor listens on ``-P``, the shell
  prints the version banner and ``(monitor) ``, then the script is typed in as ``i @<script>`` (echoed);
- the Monitor socket (``Utilities/SocketServerProvider.cs``): backlog 1, one client at a time (a second one is
  accepted by the kernel but hears nothing until the first leaves), telnet negotiation on connect, and output
  written while no client is connected queued for the next one; the UART socket the same without telnet;
- scripts (``UserInterface/Monitor.cs`` ``TryExecuteScript``, ``Parse``, ``ExecuteCommand``, ``PrintException``):
  ``\"\"\"`` blocks joined, commands not echoed, the first failing line ends the script, errors only on the
  Monitor, as ``There was an error executing command '<tokens>'`` plus the exception's message, or ``No such
  command or device: <name>``; the prompt is ``(<machine>) `` after ``mach create``;
- messages: ``Could not find file '<path>'.`` (``PlatformDescription/CreationDriver.cs``), ``Cannot load ELF on
  an unpaused machine.`` (``Core/Extensions/FileLoaderExtensions.cs``), ``File does not exist: <path>``
  (``Utilities/FilePath.cs``), ``Parameters did not match the signature`` (``ParametersMismatchException.cs``;
  Renode first prints the method's usage, left out here), ``Unable to create '0.0.0.0:<port>' socket:…``
  (``Sockets/SocketsManager.cs``), ``<name> does not provide a field, method or property <x>.``
  (``MonitorCommands.cs``), ``Parsing line '<line>' failed.`` (``Commands/ExecuteCommand.cs``).

FAKE_RENODE selects a misbehaviour: ``crash`` (exits at once), ``stubborn`` (ignores ``quit`` and SIGTERM),
``no-reset`` (``machine Reset`` fails).
"""

import os
import queue
import re
import signal
import socket
import sys
import threading

VERSION = "Renode v1.16.1.31337 (fake-2026)"
TELNET_INIT = bytes([255, 253, 0, 255, 251, 1, 255, 251, 3, 255, 252, 34])  # DO BINARY, WILL ECHO, SGA; WONT LINEMODE
# Named peripherals of platforms/cpus/stm32f4.repl plus Renode/stm32f4-harness.repl (ccm, dwt): no usart6.
PERIPHERALS = {"cpu", "nvic", "flash", "sram", "fsmcBank1", "ccm", "dwt", "rcc", "exti", "usart1", "usart2", "usart3",
               "uart4", "uart5", "gpioPortA", "gpioPortB", "gpioPortC", "gpioPortD", "timer2", "timer3"}
UARTS = {"usart1", "usart2", "usart3", "uart4", "uart5"}
BUILTINS = {"using", "numbersMode", "logLevel", "logFile", "verboseMode", "version", "help", "peripherals", "path",
            "log", "lastLog", "set", "alias", "require", "currentTime", "allowPrivates", "string"}
MODE = os.environ.get("FAKE_RENODE", "")


class Failure(Exception):
    """A RecoverableException: the Monitor prints the command and this message."""


class Server:
    """SocketServerProvider: one client at a time; bytes sent while nobody is connected wait for the next one."""

    def __init__(self, port: int, telnet: bool, on_data):
        self.sock = socket.create_server(("127.0.0.1", port), backlog=1)  # Renode binds 0.0.0.0
        self.telnet, self.on_data = telnet, on_data
        self.lock, self.pending, self.conn = threading.Lock(), bytearray(), None
        threading.Thread(target=self.serve, daemon=True).start()

    def send(self, data: bytes) -> None:
        with self.lock:
            if self.conn is None:
                self.pending += data
                return
            try:
                self.conn.sendall(data)
            except OSError:
                self.pending += data

    def serve(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            with self.lock:
                conn.sendall((TELNET_INIT if self.telnet else b"") + bytes(self.pending))
                self.pending.clear()
                self.conn = conn
            try:
                while data := conn.recv(4096):
                    self.on_data(data)
            except OSError:
                pass
            with self.lock:
                self.conn = None
            conn.close()


class Renode:
    def __init__(self, monitor_port: int, script: str):
        self.script, self.machine, self.platform = script, None, False
        self.running = self.fresh = False
        self.elf, self.macros, self.terminals, self.uart = None, {}, {}, None
        self.boots, self.rx_held = 0, bytearray()
        self.lock, self.typed, self.partial = threading.RLock(), queue.Queue(), b""
        self.monitor = Server(monitor_port, True, self.on_monitor)

    # ---- the shell: banner, prompt, the typed-in script, then what clients type -----------------------------
    def write(self, text: str) -> None:
        self.monitor.send(text.encode())

    def prompt(self) -> None:
        self.write(f"({self.machine or 'monitor'}) ")

    def error(self, text: str) -> None:
        self.write(text + "\r\n")

    def on_monitor(self, data: bytes) -> None:
        self.partial += data
        *lines, self.partial = re.split(rb"\r\n|\r|\n", self.partial)
        for line in lines:
            self.typed.put(line.decode(errors="replace"))

    def shell(self) -> None:
        self.write(f"{VERSION}\r\n\r\n")
        self.prompt()
        self.typed.put(f"i @{self.script}")
        while True:
            line = self.typed.get()
            self.write(line + "\r\n")  # echo: the Monitor's telnet says WILL ECHO
            if line.strip() in ("quit", "q") and MODE != "stubborn":
                os._exit(0)
            with self.lock:
                self.parse(line)
            self.prompt()

    # ---- Monitor.cs -----------------------------------------------------------------------------------------
    def include(self, path: str) -> bool:
        if not os.path.isfile(path):
            raise Failure(f"File does not exist: {path}")
        lines, block = [], None
        for line in open(path).read().splitlines():
            if '"""' in line:
                if block is None:
                    block = [lines.pop() if line.startswith('"""') and lines else "", line]
                else:
                    lines.append("\n".join([*block, line]))
                    block = None
            elif block is not None:
                block.append(line)
            else:
                lines.append(line)
        return all(self.parse(line) for line in lines)  # stops at the first failing line

    def parse(self, line: str) -> bool:
        head, quote, block = line.partition('"""')
        tokens = re.findall(r'"[^"]*"|\'[^\']*\'|#.*|\S+', head)
        tokens = [t for t in tokens if not t.startswith("#")]
        if quote:
            tokens.append(quote + block)
        if not tokens:
            return True
        shown = [("@" + os.path.abspath(t[1:])) if t.startswith("@") and os.path.exists(t[1:]) else t
                 for t in tokens]
        try:
            return self.execute(tokens[0], tokens[1:])
        except Failure as exc:
            self.error(f"There was an error executing command '{' '.join(shown)}'")
            self.error(str(exc))
            return False

    def execute(self, name: str, args: list[str]) -> bool:
        values = [a.strip("\"'").lstrip("@") for a in args]
        if name in ("i", "include"):
            return self.include(values[0])
        if name in ("quit", "q"):
            return True  # only FAKE_RENODE=stubborn gets here: it ignores quit
        if name == "mach" and values[:1] == ["create"]:
            self.machine = values[1] if len(values) > 1 else "machine-0"
            return True
        if name == "macro":
            self.macros[values[0]] = args[1].strip('"').strip("\n").split("\n")
            return True
        if name == "runMacro":
            macro = values[0].lstrip("$")
            if macro not in self.macros:
                raise Failure(f"No such variable: ${macro}")
            for line in self.macros[macro]:
                if not self.parse(line):
                    raise Failure(f"Parsing line '{line}' failed.")
            return True
        if name in ("start", "s"):
            self.write("Starting emulation...\r\n")
            self.run(True)
            return True
        if name in ("pause", "p"):
            self.write("Pausing emulation...\r\n")
            self.run(False)
            return True
        if name in BUILTINS:
            return True
        if name == "emulation":
            return self.emulation(values)
        if name == "connector":
            return self.connector(values)
        if self.machine is not None and name == "machine":
            return self.machine_action(values)
        device = name.removeprefix("sysbus.")  # 1.16 starts with `using sysbus`
        if self.machine is not None and (name == "sysbus" or (self.platform and device in PERIPHERALS)):
            return self.device(device, values)
        self.error(f"No such command or device: {name}")
        return False

    # ---- the emulation, the machine and its peripherals -------------------------------------------------
    def emulation(self, values: list[str]) -> bool:
        if values[:1] == ["CreateServerSocketTerminal"] and len(values) >= 3:
            port = int(values[1])
            try:
                self.terminals[values[2]] = Server(port, values[3:4] != ["false"], self.on_uart)
            except OSError as exc:
                raise Failure(f"Unable to create '0.0.0.0:{port}' socket:[AddressAlreadyInUse] {exc.strerror}") from exc
            return True
        if values[:1] in (["SetGlobalAdvanceImmediately"], ["SetGlobalQuantum"], ["SetGlobalSerialExecution"],
                          ["SetSeed"]):
            return True
        raise Failure(f"emulation does not provide a field, method or property {values[0]}.")

    def connector(self, values: list[str]) -> bool:
        if values[:1] != ["Connect"]:
            raise Failure(f"connector does not provide a field, method or property {values[0]}.")
        uart = values[1].removeprefix("sysbus.") if len(values) == 3 else ""
        if not self.platform or uart not in UARTS or values[2] not in self.terminals:
            raise Failure("Parameters did not match the signature")
        self.uart = (uart, self.terminals[values[2]])
        return True

    def machine_action(self, values: list[str]) -> bool:
        if values[:1] == ["LoadPlatformDescription"]:
            if not os.path.isfile(values[1]):
                raise Failure(f"Could not find file '{values[1]}'.")
            self.platform = True
            return True
        if values == ["Reset"]:
            if MODE == "no-reset":
                raise Failure("Simulated failure of machine Reset")
            was = self.running
            self.run(False)  # Machine.Reset: paused while peripherals reset and the reset macro runs
            self.rx_held.clear()
            self.fresh = True
            for line in self.macros.get("reset", []):
                self.parse(line)
            self.run(was)
            return True
        raise Failure(f"machine does not provide a field, method or property {values[0]}.")

    def device(self, name: str, values: list[str]) -> bool:
        if name == "sysbus" and values[:1] == ["LoadELF"]:
            if len(values) < 2 or not os.path.isfile(values[1]):
                raise Failure("Parameters did not match the signature")  # no ReadFilePath for a missing file
            if self.running:
                raise Failure("Cannot load ELF on an unpaused machine.")
            self.elf, self.fresh = values[1], True
            return True
        if name == "cpu" and values[:1] in (["VectorTableOffset"], ["PerformanceInMips"]):
            return True
        raise Failure(f"{name} does not provide a field, method or property {values[0]}.")

    # ---- the firmware ----------------------------------------------------------------------------------------
    def run(self, running: bool) -> None:
        with self.lock:
            self.running = running
            if running and self.fresh and self.elf and self.uart:
                self.fresh = False
                self.boots += 1
                self.uart[1].send(b"stale" * 100 + b"|BOOT %d|" % self.boots)
            if running and self.rx_held and self.uart:
                self.uart[1].send(bytes(self.rx_held))
                self.rx_held.clear()

    def on_uart(self, data: bytes) -> None:
        with self.lock:
            if self.running and self.uart:
                self.uart[1].send(data)  # the firmware echoes
            else:
                self.rx_held += data     # STM32_UART's RX queue keeps it until the firmware runs


def main(args: list[str]) -> None:
    if args == ["--version"]:
        print(VERSION)
        return
    if MODE == "crash":
        sys.exit(print("Could not load platform: boom", file=sys.stderr) or 1)
    if MODE == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(args[args.index("--pid-file") + 1], "w") as f:
        f.write(str(os.getpid()))
    renode = Renode(int(args[args.index("-P") + 1]), os.path.abspath(args[-1]))
    renode.shell()


if __name__ == "__main__":
    main(sys.argv[1:])
