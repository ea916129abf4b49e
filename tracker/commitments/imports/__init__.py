"""Spreadsheets in and out: our template (template.py) and the Kiel tracker's main sheet (kiel.py),
read into PledgeRows (rows.py) and written by importer.py, all or nothing."""
