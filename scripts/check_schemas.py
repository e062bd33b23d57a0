#!/usr/bin/env python3
"""An editor-independent check of the committed JSON Schemas (`schemas/`), with the
`jsonschema` reference validator (PyPI): every shipped YAML file validates against its
schema, and a misspelled key or an unknown enum value in each is rejected.

    check_schemas.py REPO      exit 0 when every check holds, 1 otherwise
"""
import copy
import glob
import json
import os
import sys

import yaml
from jsonschema import Draft202012Validator

repo = sys.argv[1]
schemas = {
    kind: Draft202012Validator(json.load(open(os.path.join(repo, "schemas", f"{kind}.schema.json"))))
    for kind in ("pipelines", "job", "job-test")
}
files = [("pipelines", os.path.join(repo, "pipelines.yaml"))]
files += [("job", f) for f in sorted(glob.glob(os.path.join(repo, "jobs", "*.yaml")))]
files += [("job-test", f) for f in sorted(glob.glob(os.path.join(repo, "jobs", "tests", "*.yaml")))]

failed = 0


def check(ok, what):
    global failed
    print(f"{'ok' if ok else 'FAILED'}: {what}")
    failed += 0 if ok else 1


docs = {}
for kind, path in files:
    doc = yaml.safe_load(open(path))
    docs.setdefault(kind, doc)
    docs[(kind, os.path.basename(path))] = doc
    errors = sorted(schemas[kind].iter_errors(doc), key=str)
    check(not errors, f"{os.path.relpath(path, repo)} validates against schemas/{kind}.schema.json"
          + "".join(f"\n    {e.message} at {list(e.absolute_path)}" for e in errors))


def rejected(kind, doc, what, needle):
    errors = [e.message for e in schemas[kind].iter_errors(doc)]
    check(any(needle in m for m in errors), f"{what} is rejected ({errors[:1]})")


p = copy.deepcopy(docs["pipelines"])
p["bronze"][0]["watermak"] = p["bronze"][0].pop("watermark", "10m")
rejected("pipelines", p, "pipelines.yaml: bronze[0].watermak (misspelled)", "watermak")
p = copy.deepcopy(docs["pipelines"])
p["kafka"]["broker"] = p["kafka"].pop("brokers")
rejected("pipelines", p, "pipelines.yaml: kafka.broker (misspelled)", "broker")
j = copy.deepcopy(docs[("job", "ventes_aggreges.yaml")])
j["groupby"] = j.pop("group_by")
rejected("job", j, "a job's groupby (misspelled)", "groupby")
j = copy.deepcopy(docs["job"])
j["mode"] = "replace_partition"
rejected("job", j, "a job's mode: replace_partition (no such mode)", "replace_partition")
j = copy.deepcopy(docs[("job", "dim_clients.yaml")])
j["scd2"]["tracked"] = j["scd2"].pop("track")
rejected("job", j, "an scd2 job's tracked (misspelled)", "tracked")
j = copy.deepcopy(docs[("job", "rfm_clients.yaml")])
j["cluster"]["centers"] = j["cluster"].pop("centres")
rejected("job", j, "a cluster step's centers (misspelled)", "centers")
t = copy.deepcopy(docs["job-test"])
first = next(iter(t["tests"].values()))
first["expected"] = first.pop("expect")
rejected("job-test", t, "a job test's expected (misspelled)", "expected")
sys.exit(1 if failed else 0)
