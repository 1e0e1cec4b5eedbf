"""The synthetic city: every department's dataset files for a made-up 杭州市, with known errors.

`onceonly synth` writes what the departments would drop into the exchange's inbox, consistent
across departments (the same people and companies everywhere), plus a ground truth of the
errors it injected so that ingest can be tested against what it must find. Nothing here is real:
every person, company and identifier is generated from a seed.
"""

from __future__ import annotations

from exchange.synth.city import (
    AS_OF,
    SynthError,
    SynthOptions,
    SynthResult,
    WrittenFile,
    synthesise,
)

__all__ = ["AS_OF", "SynthError", "SynthOptions", "SynthResult", "WrittenFile", "synthesise"]
