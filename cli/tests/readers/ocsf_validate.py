"""Validates an ndjson file of OCSF Compliance Findings (class_uid 2003)
with py-ocsf-models (PyPI), the OCSF event models Prowler publishes.

Usage: ocsf_validate.py FILE

Prints one JSON object: how many lines validated, and for each line that
did not, its number and the validator's errors.
"""

import json
import sys

from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
from pydantic import ValidationError


def main(path: str) -> None:
    valid, invalid = 0, []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                event = ComplianceFinding.model_validate(json.loads(line))
                assert event.class_uid == 2003, event.class_uid
                valid += 1
            except (ValidationError, AssertionError, ValueError) as err:
                invalid.append({"line": number, "errors": str(err)})
    print(json.dumps({"valid": valid, "invalid": invalid}))


if __name__ == "__main__":
    main(*sys.argv[1:])
