"""Temperature statistics per station, from a CSV file and a JSON configuration."""

import csv
import json
import pickle
import statistics

with open("config.json") as f:
    config = json.load(f)

readings = {}
with open("data/readings.csv", newline="") as f:
    for row in csv.DictReader(f):
        readings.setdefault(row["station"], []).append(float(row["temp"]))

summary = {}
for station in config["stations"]:
    temps = readings[station]
    summary[station] = {
        "mean": statistics.mean(temps),
        "max": max(temps),
        "warm_days": sum(t > config["threshold"] for t in temps),
    }

with open("summary.pkl", "wb") as f:
    pickle.dump(summary, f)

with open("summary.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["station", "mean", "max", "warm_days"])
    for station, stats in summary.items():
        writer.writerow([station, round(stats["mean"], 2), stats["max"], stats["warm_days"]])

with open("summary.pkl", "rb") as f:
    print(pickle.load(f))
