"""Build the connectors a compiled program declares (``WITH ('connectors' = '[...]')``)."""

from __future__ import annotations

from feldera_nb.connectors.base import InputConnector, OutputConnector, transport_of
from feldera_nb.connectors.file_input import file_input
from feldera_nb.connectors.file_output import file_output
from feldera_nb.errors import ConfigError
from feldera_nb.sql.compiler import CompiledProgram

INPUT_TRANSPORTS = ("file_input",)
OUTPUT_TRANSPORTS = ("file_output",)


def build_connectors(program: CompiledProgram
                     ) -> tuple[list[InputConnector], list[OutputConnector]]:
    """Input connectors of every table and output connectors of every view.

    Ids are ``<table or view>.<index>``, stable for the same program, so checkpoints and the
    journal can name them.  Raises :class:`ConfigError` naming the connector for bad JSON.
    """
    inputs: list[InputConnector] = []
    outputs: list[OutputConnector] = []
    for name, t in program.tables.items():
        for i, spec in enumerate(t.definition.connectors):
            cid = f"{name}.{i}"
            transport, tconf, fmt, fconf = transport_of(spec, cid)
            if transport not in INPUT_TRANSPORTS:
                raise ConfigError(f"{cid}.transport.name", f"table connectors support "
                                  f"{', '.join(INPUT_TRANSPORTS)}, not {transport!r}")
            inputs.append(file_input(cid, t, spec, tconf, fmt, fconf))
    for name, v in program.views.items():
        for i, spec in enumerate(v.definition.connectors):
            cid = f"{name}.{i}"
            transport, tconf, fmt, _ = transport_of(spec, cid)
            if transport not in OUTPUT_TRANSPORTS:
                raise ConfigError(f"{cid}.transport.name", f"view connectors support "
                                  f"{', '.join(OUTPUT_TRANSPORTS)}, not {transport!r}")
            outputs.append(file_output(cid, name, tconf, fmt))
    return inputs, outputs
