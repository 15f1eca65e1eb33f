"""What the three importers (register CSV, shelters, zones) share.

* ``problems``: one collector of ``RowError`` values (every problem, never just the first);
* ``csvrows``: CSV records with their exact physical line numbers;
* ``values``: cell parsers (NFKC text, decimals, control/separator characters).
"""

from __future__ import annotations

from alertsvc.ingest.csvrows import CsvRecord, MalformedCsv, csv_records, physical_lines
from alertsvc.ingest.problems import Problems
from alertsvc.ingest.values import bad_character, nfkc, parse_decimal, split_list, trim

__all__ = [
    "CsvRecord",
    "MalformedCsv",
    "Problems",
    "bad_character",
    "csv_records",
    "nfkc",
    "parse_decimal",
    "physical_lines",
    "split_list",
    "trim",
]
