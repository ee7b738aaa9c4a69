"""The firmware's C run natively on the host, called from Python through ctypes: the kernels one by one
(kernels.py), a whole model through them in the reference's schedule (model.py), and the generated model as the
firmware runs it (generated.py). The shared libraries are built by harness/build/host.py."""
