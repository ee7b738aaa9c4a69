"""What the firmware says: the self-test text report now, the framed serial protocol later."""
