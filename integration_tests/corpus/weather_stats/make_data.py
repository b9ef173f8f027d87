"""Writes config.json and data/readings.csv for script.py."""

import csv
import json
import os
import random

random.seed(7)
with open("config.json", "w") as f:
    json.dump({"stations": ["Oslo", "Bergen"], "threshold": 15.0}, f)
os.makedirs("data", exist_ok=True)
with open("data/readings.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["station", "day", "temp"])
    for station in ("Oslo", "Bergen", "Tromso"):
        for day in range(1, 31):
            writer.writerow([station, day, round(random.uniform(5, 25), 1)])
