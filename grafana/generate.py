#!/usr/bin/env python
"""Generate grafana/dashboards/*.json from grafana/dashboards_src.

    python grafana/generate.py           # write the JSON files
    python grafana/generate.py --check   # exit 1 with a diff if the committed JSON is stale
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboards_src.generate import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
