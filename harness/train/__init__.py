"""Training the RPool_Face detectors on copy-paste scenes (needs the ``[torch]`` extra; see ``harness train``)."""
