"""Ingest: read providers' files into canonical long rows (readers), then submit them (service).

Where each concept lives, in the order a file meets them:

- `formats`: what a file is (``sniffing``) and one reader per format (``text`` for CSV and
  other delimited text, ``xlsx``, ``parquet``, ``json_records``), each handing over batches of
  cells as text (``source``); ``dispatch`` picks the reader.
- `shapes`: what the header means (``roles``, ``targets`` for catalogue codes and request
  items), which layout it is (``layout``), the conversion to canonical long rows (``rows``
  shared by every layout, then ``long_wide``, ``published_rows``, ``by_type_rows``, driven by
  ``converter``) and the wording of every finding (``messages``).
- `normalise`: cells and codes (``text``), periods (``periods``) and values (``values``) as
  providers write them.
- `published_ae`, `department_types`: the two published A&E layouts, described.
- `readers`: a whole file, read and converted batch by batch.
- `service`: the submission run (archive, read, validate, store); `receipting`: the receipt and
  what it answers; `landing`: the landing folder; `cli`: the commands.
- `door`: the one entry of `collectonce submit`, which hands the file to the validation worker
  (`worker`, reached through `worker_link`, run by `worker_cli`'s commands) or ingests it here.
"""
