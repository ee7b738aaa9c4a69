"""Building the C kernels and firmware: the host shared library (run through ctypes by harness/native) and the
firmware images."""
