"""Model file → generated C: weights, layer schedule and the static memory plan."""
