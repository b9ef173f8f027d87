"""Smoothing with a joblib cache, then a fitted trend saved with joblib."""

import numpy as np
from joblib import Memory, dump, load

memory = Memory("cachedir", verbose=0)


@memory.cache
def load_and_smooth(path, window):
    data = np.loadtxt(path, delimiter=",")
    kernel = np.ones(window) / window
    return np.convolve(data, kernel, mode="valid")


smooth3 = load_and_smooth("measurements.csv", 3)
smooth5 = load_and_smooth("measurements.csv", 5)
smooth3_again = load_and_smooth("measurements.csv", 3)  # answered from the cache

trend = np.polyfit(np.arange(len(smooth3)), smooth3, 1)
dump({"trend": trend, "window": 3}, "model.joblib")
model = load("model.joblib")
print(model["trend"], len(smooth5), bool((smooth3 == smooth3_again).all()))
