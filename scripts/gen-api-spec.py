#!/usr/bin/env python3
"""Writes api-spec/swagger.json: berth's own spec of the routes it serves.

The routes are listed in api-spec/routes.txt ("METHOD /path"). Each operation's description
(parameters, responses, definitions it refers to) is taken from Docker's v1.45 spec, because
berth serves that API; berth's own notes on an operation go in api-spec/notes.json and land
as `x-berth` on it. Run after changing routes.txt: python3 scripts/gen-api-spec.py
(needs PyYAML and ../shared/reference/docker-engine-api-v1.45.yaml)."""
import json, os, re, sys
import yaml

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
upstream_path = os.path.join(root, '..', 'shared', 'reference', 'docker-engine-api-v1.45.yaml')
up = yaml.safe_load(open(upstream_path))
notes = json.load(open(os.path.join(root, 'api-spec', 'notes.json')))

routes = []
for line in open(os.path.join(root, 'api-spec', 'routes.txt')):
    line = line.split('#', 1)[0].strip()
    if line:
        m, p = line.split()
        routes.append((m.lower(), p))

paths, needed = {}, set()
def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == '$ref' and isinstance(v, str):
                yield v.rsplit('/', 1)[-1]
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)

for m, p in routes:
    op = up['paths'].get(p, {}).get(m)
    if op is None:
        op = {'summary': notes.get(f'{m.upper()} {p}', 'berth extension'), 'responses': {'200': {'description': 'ok'}}}
    else:
        op = dict(op)
    note = notes.get(f'{m.upper()} {p}')
    if note:
        op['x-berth'] = note
    paths.setdefault(p, {})[m] = op
    needed.update(refs(op))

defs, todo = {}, list(needed)
while todo:
    name = todo.pop()
    if name in defs or name not in up.get('definitions', {}):
        continue
    defs[name] = up['definitions'][name]
    todo.extend(refs(defs[name]))

spec = {
    'swagger': '2.0',
    'info': {'title': 'berth Engine API', 'version': '1.45',
             'description': 'The subset of the Docker Engine API v1.45 that berthd serves.'},
    'basePath': '/v1.45',
    'schemes': ['http'],
    'consumes': ['application/json', 'text/plain'],
    'produces': ['application/json', 'text/plain'],
    'paths': paths,
    'definitions': dict(sorted(defs.items())),
}
json.dump(spec, open(os.path.join(root, 'api-spec', 'swagger.json'), 'w'), indent=1, sort_keys=False)
print(f'{len(routes)} routes, {len(defs)} definitions')
