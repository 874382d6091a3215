"""Write the JSON Schema of every contract: `python -m leadflow_shared.schemas <dir>`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .contracts import json_schemas


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = directory / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/contracts/schemas")):
        print(path)
