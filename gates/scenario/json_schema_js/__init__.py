"""@cfworker/json-schema (MIT), the JSON Schema validator `reelgate scenario k6` scripts import: vendored from
the npm registry (the `dist/esm` files of the VERSION here, source-map comments removed), because k6 has no
validator of its own. `url-shim.js` is reelgate's: k6 has no `URL`, which the validator needs."""

from pathlib import Path

FOLDER = Path(__file__).parent
"""Where `index.js` and `url-shim.js` are, for a script's imports."""
