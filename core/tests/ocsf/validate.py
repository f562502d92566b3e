"""Validates OCSF events (one JSON object a line, from FILE) against the OCSF
1.5.0 schema as PyPI `pydantic-ocsf` ships it (ocsf.v1_5_0): types, required
attributes, enum values, and no attribute the schema does not define
(outside `unmapped`). Prints "N valid" or the first problems; exit 1 on any.
"""

import json
import sys

from ocsf.v1_5_0 import objects
from ocsf.v1_5_0.events import ApiActivity
from pydantic import BaseModel

# The package's event models leave profile attributes out; these are the
# ones of the profiles the events declare, each checked against its OCSF
# 1.5.0 object model or enum below.
PROFILE_ATTRIBUTES = {
    "security_control": {
        "action",
        "action_id",
        "disposition",
        "disposition_id",
        "is_alert",
        "policy",
    },
    "cloud": {"cloud"},
}
OBJECTS = {"policy": objects.Policy, "cloud": objects.Cloud}
ENUMS = {
    "action_id": {0, 1, 2, 3, 4, 99},
    "disposition_id": set(range(28)) | {99},
}


def extras(model, path):
    """Attributes the schema does not define, anywhere below `model`."""
    out = []
    for key in model.model_extra or {}:
        out.append(f"{path}.{key}")
    for name in type(model).model_fields:
        if name == "unmapped":
            continue
        value = getattr(model, name)
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if isinstance(item, BaseModel):
                sub = f"{path}.{name}" + (f"[{i}]" if isinstance(value, list) else "")
                out.extend(extras(item, sub))
    return out


problems = []
count = 0
with open(sys.argv[1]) as f:
    for n, line in enumerate(f, 1):
        event = json.loads(line)
        count += 1
        try:
            model = ApiActivity.model_validate(event)
        except Exception as e:
            problems.append(f"event {n}: {e}")
            continue
        if event.get("metadata", {}).get("version") != "1.5.0":
            problems.append(f"event {n}: metadata.version is not 1.5.0")
        profiles = event.get("metadata", {}).get("profiles", [])
        allowed = set().union(*(PROFILE_ATTRIBUTES.get(p, set()) for p in profiles))
        for p in extras(model, "event"):
            key = p.split(".", 1)[1]
            if key not in allowed:
                problems.append(
                    f"event {n}: {p} is not an OCSF 1.5.0 attribute"
                    " of API Activity or its declared profiles"
                )
            elif key in OBJECTS:
                try:
                    sub = OBJECTS[key].model_validate(event[key])
                    problems.extend(
                        f"event {n}: {q} is not an OCSF 1.5.0 attribute" for q in extras(sub, p)
                    )
                except Exception as e:
                    problems.append(f"event {n}: {p}: {e}")
            elif key in ENUMS and event[key] not in ENUMS[key]:
                problems.append(f"event {n}: {p} = {event[key]} is not in its enum")
if problems:
    print("\n".join(problems[:20]))
    sys.exit(1)
print(f"{count} valid")
