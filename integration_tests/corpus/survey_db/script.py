"""Mean reading per site from a SQLite survey: stored back in the database and as CSV."""

import sqlite3

import pandas as pd

connection = sqlite3.connect("survey.db")
means = pd.read_sql_query(
    "SELECT site, AVG(reading) AS mean FROM measurements GROUP BY site ORDER BY site",
    connection)
connection.execute("CREATE TABLE IF NOT EXISTS site_means (site TEXT, mean REAL)")
connection.executemany("INSERT INTO site_means VALUES (?, ?)",
                       means.itertuples(index=False, name=None))
connection.commit()
connection.close()

units = sqlite3.connect("units.db")
means["unit"] = units.execute("SELECT unit FROM units WHERE quantity = 'reading'").fetchone()[0]
units.close()
means.to_csv("site_means.csv", index=False)
print(means)
