"""Writes survey.db (sites and readings) and units.db for script.py."""

import sqlite3

with sqlite3.connect("survey.db") as db:
    db.execute("CREATE TABLE measurements (site TEXT, day INTEGER, reading REAL)")
    db.executemany("INSERT INTO measurements VALUES (?, ?, ?)",
                   [(site, day, 0.5 * day + offset) for site, offset in
                    [("DR-1", 0.0), ("DR-3", 1.5), ("MSK-4", -0.5)] for day in range(1, 6)])
db.close()
with sqlite3.connect("units.db") as db:
    db.execute("CREATE TABLE units (quantity TEXT, unit TEXT)")
    db.execute("INSERT INTO units VALUES ('reading', 'mm')")
db.close()
