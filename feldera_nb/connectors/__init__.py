"""Connectors: data in and out of a pipeline, declared in SQL as Feldera does.

- :mod:`~feldera_nb.connectors.base`: what an input and an output connector offer, and
  :class:`ConnectorError`-free parsing of the ``connectors`` JSON of a table or view.
- :mod:`~feldera_nb.connectors.file_input`: ``file_input`` (CSV or JSON lines, read in chunks,
  a byte position per step, ``follow`` for growing files).
- :mod:`~feldera_nb.connectors.file_output`: ``file_output`` (every change of a view, tagged with
  its step; fault-tolerant: after recovery it skips the steps it already wrote).
- :mod:`~feldera_nb.connectors.registry`: building the connectors of a compiled program.

::

    CREATE TABLE t (x INT) WITH ('connectors' = '[{
        "transport": {"name": "file_input", "config": {"path": "t.csv", "follow": false}},
        "format": {"name": "csv"}, "max_batch_size": 1000}]');
    CREATE VIEW v WITH ('connectors' = '[{
        "transport": {"name": "file_output", "config": {"path": "v.jsonl"}},
        "format": {"name": "json"}}]') AS SELECT * FROM t;
"""

from feldera_nb.connectors.base import Chunk, InputConnector, OutputConnector
from feldera_nb.connectors.file_input import FileInput
from feldera_nb.connectors.file_output import FileOutput
from feldera_nb.connectors.registry import build_connectors

__all__ = ["Chunk", "FileInput", "FileOutput", "InputConnector", "OutputConnector",
           "build_connectors"]
