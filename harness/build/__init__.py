"""Building the C kernels and firmware: the host shared library (ctypes) and, later, the STM32 images."""
