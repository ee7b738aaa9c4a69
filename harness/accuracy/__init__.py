"""Detection accuracy: PASCAL VOC metrics (metrics.py: matching, precision/recall, AP) and a model's accuracy on a
labelled fixture set (evaluation.py)."""
