#!/usr/bin/env python3
"""Writes the registry snapshot and the secret-name mask that the `airbyte` crate bundles.

    scripts/gen-registry-snapshot.py [REGISTRY_JSON] [SECRET_NAMES_JSON]

Inputs default to ../shared/reference/registry/ (an offline slice of Airbyte's
`oss_registry.json` and the platform's global secret mask; its README says where they come
from). REGISTRY_JSON may also be a live `oss_registry.json` (a file, or an http(s) URL) where
one is reachable. Outputs, in crates/airbyte/data/:

* `registry_snapshot.json`: `{"snapshot_date", "source", "sources", "destinations"}` with, per
  connector, only the fields PyAirbyte reads (the live file's `spec` is dropped), entries sorted
  by `dockerRepository` so regenerating gives a readable diff.
* `secret_property_names.json`: the sorted, de-duplicated list of property names.

Never edit the outputs by hand: regenerate them.
"""
import json
import os
import sys
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, "..", "shared", "reference", "registry")
OUT = os.path.join(ROOT, "crates", "airbyte", "data")
# What PyAirbyte reads of an entry (airbyte/registry.py, 0.71.3).
FIELDS = [
    "name", "dockerRepository", "dockerImageTag", "documentationUrl", "language", "tags",
    "remoteRegistries", "suggestedStreams", "supportLevel", "releaseStage", "sourceType",
    "releaseDate", "githubIssueLabel", "license", "externalDocumentationUrls",
    "sourceDefinitionId", "destinationDefinitionId",
]


def load(place):
    if place.startswith(("http://", "https://")):
        with urllib.request.urlopen(place, timeout=60) as response:
            return json.load(response)
    with open(place, encoding="utf-8") as f:
        return json.load(f)


def slim(entry):
    out = {k: entry[k] for k in FIELDS if k in entry}
    pypi = (entry.get("remoteRegistries") or {}).get("pypi")
    if pypi is not None:
        out["remoteRegistries"] = {"pypi": {k: pypi[k] for k in ("enabled", "packageName") if k in pypi}}
    return out


def main():
    registry_in = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REFERENCE, "oss_registry_slim_2025-01.json")
    secrets_in = sys.argv[2] if len(sys.argv) > 2 else os.path.join(REFERENCE, "secret_property_names.json")
    data = load(registry_in)
    base = os.path.basename(registry_in)
    # The reference slice's README gives its date; a live registry is dated today.
    date = None
    readme = os.path.join(os.path.dirname(os.path.abspath(registry_in)), "README.md")
    if not registry_in.startswith("http") and os.path.exists(readme):
        import re
        m = re.search(r"as it stood on (\d{4}-\d{2}-\d{2})", open(readme, encoding="utf-8").read())
        date = m.group(1) if m else None
    if date is None:
        import datetime
        date = datetime.date.today().isoformat()
    snapshot = {
        "snapshot_date": date,
        "source": base,
        "sources": sorted((slim(e) for e in data["sources"]), key=lambda e: e["dockerRepository"]),
        "destinations": sorted((slim(e) for e in data["destinations"]), key=lambda e: e["dockerRepository"]),
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "registry_snapshot.json"), "w", encoding="utf-8") as f:
        json.dump(snapshot, f, separators=(",", ":"), sort_keys=False, ensure_ascii=False)
        f.write("\n")
    names = sorted(set(load(secrets_in)))
    with open(os.path.join(OUT, "secret_property_names.json"), "w", encoding="utf-8") as f:
        json.dump(names, f, indent=0)
        f.write("\n")
    print(f"registry_snapshot.json: {len(snapshot['sources'])} sources, "
          f"{len(snapshot['destinations'])} destinations ({date}); "
          f"secret_property_names.json: {len(names)} names")


if __name__ == "__main__":
    main()
