#!/usr/bin/env python3
"""Writes small synthetic tables in the layout of three statsmodels data sets (issue 25).

The values are SYNTHETIC (deterministic formulas, no download): only the layout follows
statsmodels' files (statsmodels/datasets/*, BSD-3-Clause package; the data themselves are
public-domain US government / NOAA series):

  co2.csv          weekly CO2 (statsmodels.datasets.co2): `date,co2`, ISO dates, empty cells
  elec_equip.csv   monthly index (statsmodels.datasets.elec_equip layout): `DATE,STS.M.I7...`
                   with `Jan-1-1995`-style dates and one value column
  macrodata.csv    quarterly US macro data (statsmodels.datasets.macrodata): 14 quoted
                   columns incl. year and quarter

Run from the repository root:  python3 scripts/make_table_fixtures.py
Writes Tests/SequenceIOTests/Fixtures/{co2,elec_equip,macrodata}.csv (standard library only).
"""
import datetime
import math
import os

OUT = os.path.join("Tests", "SequenceIOTests", "Fixtures")


def co2(rows=120):
    start = datetime.date(1958, 3, 29)
    missing = {7, 8, 30, 61, 62, 63, 100}  # like the real file: gaps of one to a few weeks
    lines = ["date,co2"]
    for i in range(rows):
        day = start + datetime.timedelta(weeks=i)
        value = 316.0 + 0.016 * i + 3.0 * math.sin(2 * math.pi * i / 52.18)
        lines.append(f"{day.isoformat()}," + ("" if i in missing else f"{value:.1f}"))
    return "\n".join(lines) + "\n"


def elec_equip(rows=96):
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    lines = ["DATE,STS.M.I7.W.TOVT.NS0016.4.000"]
    for i in range(rows):
        year, month = 1995 + i // 12, i % 12
        value = 90.0 + 0.2 * i + 8.0 * math.sin(2 * math.pi * month / 12) - (15.0 if month == 7 else 0.0)
        lines.append(f"{months[month]}-1-{year},{value:.2f}")
    return "\n".join(lines) + "\n"


def macrodata(rows=40):
    names = ["year", "quarter", "realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi",
             "m1", "tbilrate", "unemp", "pop", "infl", "realint"]
    lines = [",".join(f'"{n}"' for n in names)]
    for i in range(rows):
        year, quarter = 1959 + i // 4, 1 + i % 4
        g = 2710.349 * 1.008 ** i
        cpi = 28.98 * 1.004 ** i
        tbil = 2.82 + 1.5 * math.sin(i / 6)
        infl = 0.0 if i == 0 else round(400 * math.log(1.004), 2)
        row = [f"{year:.1f}", f"{quarter:.1f}", f"{g:.3f}", f"{0.64 * g:.3f}", f"{0.105 * g:.3f}",
               f"{0.17 * g:.3f}", f"{0.68 * g:.1f}", f"{cpi:.3f}", f"{139.7 + 0.9 * i:.1f}",
               f"{tbil:.2f}", f"{5.8 - 0.05 * i + 0.4 * math.cos(i / 3):.1f}",
               f"{177.146 + 0.7 * i:.3f}", f"{infl:.2f}", f"{tbil - infl:.2f}"]
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    for name, text in [("co2.csv", co2()), ("elec_equip.csv", elec_equip()), ("macrodata.csv", macrodata())]:
        with open(os.path.join(OUT, name), "w", newline="\n") as f:
            f.write(text)
        print(name, len(text.splitlines()) - 1, "rows")
