"""SQL conformance: SQLite's sqllogictest corpus run as incremental views.

Modules, in the order a run uses them:

- ``records``  parse a ``.test`` script (statements, queries, hash-threshold, skipif/onlyif)
- ``values``   render values as the reference harness does (I/R/T), sort modes, md5 hashing
- ``program``  run the script on an SQLite mirror: segments, data states, bag-comparable results
- ``schedule`` input steps between data states (``batch``: one; ``incremental``: junk rows in
  and out, real rows deleted and re-inserted)
- ``engines``  feldera_nb's Pipeline, plus DuckDB and SQLite stand-ins
- ``runner``   compile each chunk of views once, run it in every mode, judge results
- ``suite``    corpus location (``FELDERA_NB_SLT_DIR``), sampling, one file end to end
- ``report``   tables, timings and the ``artifacts/slt_*`` files
- ``__main__`` the command: ``python -m tests.sqllogictest --help``
- ``test_slt`` the pytest entry, with per-file pass-rate floors in ``thresholds.json``
"""
