"""Boards shared through labgrid: reservations, remote flashing (docs/farm.md).

gRPC's fork handlers are turned off before labgrid imports gRPC. The harness forks its emulators and tools
(harness/targets/emulator.py, with a pre-exec step), and while a labgrid session's threads are in gRPC its handlers
kill such a child before its exec now and then (SIGABRT, gRPC's "epoll_wait error: Bad file descriptor" its only
output: QEMU "did not start" once in CI; 47 of 300 children in tests/harness/farm/test_fork.py's setting). The
harness never uses gRPC in a child process. A user's own setting wins."""

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
