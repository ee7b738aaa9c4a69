"""Pictures for people rather than scripts: detections drawn on their image (draw.py) and accuracy and training
curves (plots.py)."""
