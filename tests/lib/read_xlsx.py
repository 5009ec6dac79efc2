#!/usr/bin/env python3
"""Reads an xlsx workbook with openpyxl (an independent reader) and prints it as JSON.

Used by tests/it/xlsx.rs to check every cell sqlcourier wrote:
  {"sheets": [...], "freeze": "A2", "title": ..., "subject": ..., "custom": {...},
   "formulas": N, "widths": {"A": 12.0}, "bold_header": true,
   "rows": [[{"t": "n", "v": "12.5", "f": "0.00"} | null, ...], ...]}
A cell is null when the sheet has no cell there (SQL NULL); otherwise `t` is openpyxl's
data type (n number, s text, b boolean, d date), `v` its value as text (numbers as
Python's repr, dates ISO with milliseconds), `f` the number format.
"""
import datetime
import json
import re
import sys
import zipfile

import openpyxl


# ECMA-376 Part 1, 22.9.2.19 ST_Xstring: a writer escapes characters XML cannot hold
# (controls) as _xHHHH_, and a literal "_xHHHH_" as _x005F_xHHHH_. Excel decodes them;
# openpyxl 3.0 does not, so the reader does it here, left to right, as the spec says.
XSTRING_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def value(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, datetime.datetime):
        return v.isoformat(sep=" ", timespec="milliseconds")
    if isinstance(v, (int, float)):
        return repr(v)
    return XSTRING_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), str(v))


def main(path):
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    # which cells exist in the XML at all (a NULL is no cell; '' a blank cell with a format)
    with zipfile.ZipFile(path) as z:
        sheet_xml = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
        custom = {}
        if "docProps/custom.xml" in z.namelist():
            xml = z.read("docProps/custom.xml").decode("utf-8")
            for name, val in re.findall(r'name="([^"]*)"[^>]*><vt:lpwstr>([^<]*)</vt:lpwstr>', xml):
                custom[name] = val
    present = set(re.findall(r'<c r="([A-Z]+[0-9]+)"', sheet_xml))
    rows = []
    for row in ws.iter_rows(min_row=1, max_row=ws.max_row, max_col=ws.max_column):
        out = []
        for c in row:
            if c.coordinate not in present:
                out.append(None)
                continue
            out.append({"t": c.data_type, "v": value(c.value), "f": c.number_format})
        rows.append(out)
    widths = {k: d.width for k, d in ws.column_dimensions.items() if d.width}
    print(json.dumps({
        "sheets": wb.sheetnames,
        "freeze": ws.freeze_panes,
        "title": wb.properties.title,
        "subject": wb.properties.subject,
        "custom": custom,
        "formulas": len(re.findall(r"<f[ >]", sheet_xml)),
        "widths": widths,
        "bold_header": all(c.font.b for c in ws[1] if c.value is not None),
        "rows": rows,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1])
