#!/usr/bin/env python3
"""Checks the include lines of lib/, include/ and examples/ against the
layers in docs/architecture.md and lib/README.md.

Rules (STYLE.md, "Layout and size"):
  - every library source lives in a folder of lib/ that has a layer below;
  - a file in lib/F/ includes headers of its own folder (bare name,
    "spec_util.h"), public headers ("aioendpoint/x.h"), and the door of a
    folder in a LOWER layer ("util/util.h"): never another folder's
    private header, never a folder in the same or a higher layer;
  - include/ includes only include/; examples/ include only the public
    headers and examples/ itself;
  - nothing includes bench/ or tests/;
  - no cycle between folders.

Each offending include is printed as file:line: message, and the exit
status is 1. Usage: check-layers.py [--root DIR]   (default: this checkout)
"""
import argparse
import os
import re
import sys

# Folder -> layer, bottom (0) to top. A new folder gets a line here and a
# row in docs/architecture.md. Folders in one layer may not include each
# other: what two of them share belongs in a lower layer.
LAYERS = {
    'util': 0,
    'transform': 1,     # pure expression engine; spec/ checks Dataflow rules with it
    'spec': 2,
    'auth': 3,          # service account tokens, managed identity, TLS material
    'session': 4,
    'pubsub': 5,
    'cloudevents': 5,
    'inbox': 5,
}
LAYER_NAMES = {0: 'util', 1: 'transform', 2: 'spec', 3: 'auth/tls', 4: 'session',
               5: 'pubsub/cloudevents/inbox'}

# Generated into the build directory from include/aioendpoint/version.h.in.
GENERATED_PUBLIC = {'version.h'}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SOURCE_EXT = ('.c', '.h')


def rel(root, path):
    return os.path.relpath(path, root)


def door_of(folder):
    return os.path.join(folder, folder + '.h')


def sccs(graph):
    """Strongly connected components of more than one node (Tarjan), each
    sorted; graph maps a node to its successors. Shared with check-calls.py."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


class Checker:
    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.lib = os.path.join(self.root, 'lib')
        self.inc = os.path.join(self.root, 'include')
        self.problems = []
        self.folder_edges = {}   # (from, to) -> first "file:line"

    def report(self, where, msg):
        self.problems.append('%s: %s' % (where, msg))

    # ---- classification ---------------------------------------------
    def area(self, path):
        """('lib', folder or None) | ('include',) | ('examples',) |
        ('bench',) | ('tests',) | ('other',)"""
        r = rel(self.root, path)
        parts = r.split(os.sep)
        if parts[0] == 'lib':
            return ('lib', parts[1] if len(parts) > 2 else None)
        if parts[0] in ('include', 'examples', 'bench', 'tests'):
            return (parts[0],)
        return ('other',)

    def resolve(self, src, name, quoted):
        """The file an include names, or None (system / not in the tree)."""
        here = os.path.dirname(src)
        candidates = []
        if quoted:
            candidates.append(os.path.join(here, name))
        # -I lib/ (the library's own objects) and -I include/ (everyone)
        candidates.append(os.path.join(self.lib, name))
        candidates.append(os.path.join(self.inc, name))
        for c in candidates:
            if os.path.isfile(c):
                return os.path.normpath(c)
        # repo-relative spellings that only work by accident of -I order
        for top in ('bench', 'tests'):
            if name.startswith(top + '/') or ('/' + top + '/') in name:
                return os.path.join(self.root, name)
        return None

    # ---- rules ---------------------------------------------------------
    def check_lib(self, src, where, folder, name, target):
        t = self.area(target)
        if t[0] == 'include':
            return
        if t[0] in ('bench', 'tests'):
            self.report(where, '"%s": lib/ never includes %s/' % (name, t[0]))
            return
        if t[0] != 'lib':
            self.report(where, '"%s": lib/ includes only lib/ and include/' % name)
            return
        to = t[1]
        if to is None:
            self.report(where, '"%s": headers live in a folder of lib/' % name)
            return
        if to == folder:
            return
        if rel(self.lib, target) != door_of(to):
            self.report(where, '"%s" is private to lib/%s/: include its door "%s"'
                        % (name, to, door_of(to)))
        if to not in LAYERS:
            return  # reported once per folder in run()
        if folder in LAYERS and LAYERS[to] >= LAYERS[folder]:
            self.report(where, '"%s": %s (layer %s) may not include %s (layer %s): '
                        'includes point down only'
                        % (name, folder, LAYER_NAMES[LAYERS[folder]], to,
                           LAYER_NAMES[LAYERS[to]]))
        self.folder_edges.setdefault((folder, to), where)

    def check_file(self, src):
        a = self.area(src)
        with open(src, encoding='utf-8', errors='replace') as f:
            lines = f.readlines()
        for n, line in enumerate(lines, 1):
            m = INCLUDE_RE.match(line)
            if not m:
                continue
            quoted, name = m.group(1) == '"', m.group(2)
            where = '%s:%d' % (rel(self.root, src), n)
            target = self.resolve(src, name, quoted)
            if target is None and quoted and '/' not in name:
                # a bare name from another folder (it only compiled with
                # every folder on the include path)
                owners = sorted(d for d in os.listdir(self.lib)
                                if os.path.isfile(os.path.join(self.lib, d, name)))
                if owners:
                    target = os.path.join(self.lib, owners[0], name)
            if target is None:
                if quoted and name in GENERATED_PUBLIC:
                    continue
                if quoted:
                    self.report(where, '"%s" not found: a bare name is a header of '
                                'the same folder; another folder\'s door is '
                                '"folder/folder.h"' % name)
                continue  # <system.h>
            if a[0] == 'lib':
                self.check_lib(src, where, a[1], name, target)
            elif a[0] == 'include':
                if self.area(target)[0] != 'include':
                    self.report(where, '"%s": public headers include only public headers'
                                % name)
            elif a[0] == 'examples':
                t = self.area(target)[0]
                if t not in ('include', 'examples'):
                    self.report(where, '"%s": examples use the public headers only, '
                                'never %s/' % (name, t))

    def cycles(self):
        graph = {}
        for (a, b) in self.folder_edges:
            graph.setdefault(a, []).append(b)
        for comp in sccs(graph):
            edges = ['%s -> %s (%s)' % (a, b, w)
                     for (a, b), w in sorted(self.folder_edges.items())
                     if a in comp and b in comp]
            self.report('lib', 'include cycle between folders %s: %s'
                        % (', '.join(comp), '; '.join(edges)))

    def run(self):
        if not os.path.isdir(self.lib):
            self.report(self.root, 'no lib/ here')
            return
        for entry in sorted(os.listdir(self.lib)):
            p = os.path.join(self.lib, entry)
            if os.path.isfile(p) and entry.endswith(SOURCE_EXT):
                self.report('lib/' + entry, 'every library source lives in a folder of lib/')
            elif os.path.isdir(p):
                if entry not in LAYERS:
                    self.report('lib/' + entry, 'folder has no layer: add it to LAYERS in '
                                'tests/structure/check-layers.py and to docs/architecture.md')
                if not os.path.isfile(os.path.join(self.lib, door_of(entry))):
                    self.report('lib/' + entry, 'folder has no door header %s' % door_of(entry))
        for top in ('lib', 'include', 'examples'):
            base = os.path.join(self.root, top)
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames.sort()
                for fn in sorted(filenames):
                    if fn.endswith(SOURCE_EXT):
                        self.check_file(os.path.join(dirpath, fn))
        self.cycles()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--root', default=os.path.join(os.path.dirname(__file__), '..', '..'))
    args = ap.parse_args()
    c = Checker(args.root)
    c.run()
    for p in c.problems:
        print(p)
    if c.problems:
        print('%d include problem(s); the rules: lib/README.md, docs/architecture.md'
              % len(c.problems))
        return 1
    print('includes follow the layers (%s)' % ' -> '.join(
        LAYER_NAMES[k] for k in sorted(LAYER_NAMES, reverse=True)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
