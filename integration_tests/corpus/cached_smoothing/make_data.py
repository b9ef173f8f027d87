"""Writes measurements.csv for script.py."""

import numpy as np

rng = np.random.default_rng(11)
np.savetxt("measurements.csv", np.cumsum(rng.normal(0, 1, 200)), delimiter=",")
