#!/usr/bin/env python3
"""Checks the calls between the library's files, read from the symbols of
the built objects (nm): what the include check cannot see, because two
files of one folder share a private header.

Fails, printing each offending edge, on:
  - a cycle between files (a calls b ... calls a), within or across folders;
  - a call from one folder into a folder of the same or a higher layer
    (docs/architecture.md), except the edges in ALLOWED_UP.

Usage: check-calls.py [--nm NM] libaioendpoint.a | OBJECT.o...
Object names are meson's: <folder>_<file>.c.o (lib/spec/topic.c ->
spec_topic.c.o).
"""
import argparse
import collections
import importlib.util
import os
import subprocess
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('check_layers',
                                               os.path.join(_here, 'check-layers.py'))
check_layers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_layers)
LAYERS = check_layers.LAYERS

# (caller folder, callee folder): why. Keep this list short and explained
# in docs/architecture.md.
ALLOWED_UP = {
    ('session', 'cloudevents'):
        'aioe_session_new() makes the endpoint\'s CloudEvents stage with the '
        'public API (aioendpoint/cloudevents.h); cloudevents/ calls nothing '
        'above util/',
    ('pubsub', 'cloudevents'):
        'aioe_session_publish_message() runs that stage on publish, through '
        'the same public API',
}


# nm's kinds of a global definition (lower case = local to the object).
GLOBAL_KINDS = {'T', 'D', 'B', 'R', 'G', 'S', 'V', 'W', 'C', 'u', 'i'}


def member_file(member):
    """spec_topic.c.o -> ('spec', 'spec/topic.c'); unknown -> (None, name)."""
    name = member[:-2] if member.endswith('.o') else member
    for folder in sorted(LAYERS, key=len, reverse=True):
        if name.startswith(folder + '_'):
            return folder, folder + '/' + name[len(folder) + 1:]
    return None, name


def read_symbols(nm, paths):
    """{file: (defined set, undefined set)} from an archive or objects."""
    out = collections.defaultdict(lambda: (set(), set()))
    for path in paths:
        p = subprocess.run([nm, '--format=posix', '-A', path],
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit('%s: %s' % (nm, p.stderr.strip()))
        for line in p.stdout.splitlines():
            head, _, rest = line.partition(': ')
            fields = rest.split()
            if len(fields) < 2:
                continue
            sym, kind = fields[0], fields[1]
            member = head[head.rfind('[') + 1:-1] if head.endswith(']') \
                else os.path.basename(head)
            if not member.endswith('.o'):
                continue
            defined, undefined = out[member]
            if kind == 'U':
                undefined.add(sym)
            elif kind in GLOBAL_KINDS:
                defined.add(sym)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--nm', default='nm')
    ap.add_argument('inputs', nargs='+')
    args = ap.parse_args()

    symbols = read_symbols(args.nm, args.inputs)
    owner = {}
    for member, (defined, _) in symbols.items():
        for s in defined:
            owner[s] = member
    edges = collections.defaultdict(dict)   # file -> {file: [symbols]}
    files = {}
    problems = []
    for member in sorted(symbols):
        folder, f = member_file(member)
        files[member] = (folder, f)
        if folder is None:
            problems.append('%s: object of no known folder (LAYERS in check-layers.py)'
                            % member)
    for member, (_, undefined) in symbols.items():
        for s in undefined:
            callee = owner.get(s)
            if callee and callee != member:
                edges[member].setdefault(callee, []).append(s)

    for caller in sorted(edges):
        cf, cfile = files[caller]
        for callee, syms in sorted(edges[caller].items()):
            tf, tfile = files[callee]
            if cf is None or tf is None or cf == tf:
                continue
            if LAYERS[tf] >= LAYERS[cf] and (cf, tf) not in ALLOWED_UP:
                problems.append('lib/%s calls lib/%s (%s): %s is not below %s'
                                % (cfile, tfile, ', '.join(sorted(syms)[:4]), tf, cf))

    graph = {m: set(t) for m, t in edges.items()}
    for comp in check_layers.sccs(graph):
        ring = []
        for a in comp:
            for b, syms in sorted(edges[a].items()):
                if b in comp:
                    ring.append('lib/%s -> lib/%s (%s)' % (files[a][1], files[b][1],
                                                           ', '.join(sorted(syms)[:3])))
        problems.append('call cycle between %s: %s'
                        % (', '.join('lib/' + files[m][1] for m in comp), '; '.join(ring)))

    for p in problems:
        print(p)
    if problems:
        print('%d call problem(s); the layers: docs/architecture.md' % len(problems))
        return 1
    print('%d files, %d call edges: no cycle, no call up a layer'
          % (len(files), sum(len(t) for t in edges.values())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
