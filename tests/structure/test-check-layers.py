#!/usr/bin/env python3
"""Unit test of check-layers.py: a tiny fake tree that passes, then one
planted bad include per rule, each of which must fail with file:line."""
import os
import subprocess
import sys
import tempfile

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'check-layers.py')

GOOD = {
    'include/aioendpoint/common.h': '#include <stddef.h>\n',
    'include/aioendpoint/spec.h': '#include "common.h"\n',
    'lib/util/util.h': '#include "backoff.h"\n',
    'lib/util/backoff.h': '#include <stdint.h>\n',
    'lib/util/backoff.c': '#include "backoff.h"\n',
    'lib/spec/spec.h': '#include "aioendpoint/spec.h"\n',
    'lib/spec/spec_internal.h': '#include "util/util.h"\n',
    'lib/spec/spec_parse.c': '#include "spec_internal.h"\n#include "util/util.h"\n',
    'lib/auth/auth.h': '#include "spec/spec.h"\n',
    'lib/session/session.h': '#include "session_internal.h"\n',
    'lib/session/session_internal.h': '#include "auth/auth.h"\n#include "spec/spec.h"\n',
    'lib/session/session.c': '#include <stdio.h>\n#include "session.h"\n',
    'lib/pubsub/pubsub.h': '#include "session/session.h"\n',
    'lib/pubsub/publish.c': '#include "pubsub.h"\n#include "aioendpoint/common.h"\n',
    'lib/cloudevents/cloudevents.h': '#include "util/util.h"\n',
    'examples/common/parse-error.h': '#include <aioendpoint/spec.h>\n',
    'examples/tool/tool.c': '#include "../common/parse-error.h"\n#include <aioendpoint/common.h>\n',
    'tests/unit/helper.h': '\n',
    'bench/bench.h': '\n',
}

# name: (file, text added, words the output must contain)
BAD = {
    'upward include': ('lib/spec/spec_parse.c', '#include "session/session.h"\n',
                       ['lib/spec/spec_parse.c:3:', 'point down']),
    'same-layer include': ('lib/pubsub/publish.c', '#include "cloudevents/cloudevents.h"\n',
                           ['lib/pubsub/publish.c:3:', 'point down']),
    'private header of another folder': ('lib/session/session.c',
                                         '#include "spec/spec_internal.h"\n',
                                         ['lib/session/session.c:3:', 'private to lib/spec/']),
    'bare name from another folder': ('lib/session/session.c', '#include "backoff.h"\n',
                                      ['lib/session/session.c:3:', 'private to lib/util/']),
    'include from tests/': ('lib/util/backoff.c', '#include "../../tests/unit/helper.h"\n',
                            ['lib/util/backoff.c:2:', 'never includes tests/']),
    'include from bench/': ('lib/spec/spec_parse.c', '#include "../../bench/bench.h"\n',
                            ['lib/spec/spec_parse.c:3:', 'never includes bench/']),
    'cycle between folders': ('lib/util/backoff.c', '#include "spec/spec.h"\n',
                              ['lib/util/backoff.c:2:', 'cycle between folders spec, util']),
    'example reaching into lib/': ('examples/tool/tool.c', '#include "../../lib/spec/spec.h"\n',
                                   ['examples/tool/tool.c:3:', 'public headers only']),
    'public header reaching into lib/': ('include/aioendpoint/spec.h',
                                         '#include "../../lib/util/util.h"\n',
                                         ['include/aioendpoint/spec.h:2:',
                                          'public headers include only public headers']),
    'source outside a folder': ('lib/stray.c', '#include <stdio.h>\n',
                                ['lib/stray.c', 'lives in a folder']),
    'folder without a layer': ('lib/misc/misc.h', '\n', ['lib/misc', 'has no layer']),
    'folder without a door': ('lib/inbox/store.c', '#include "store.h"\n',
                              ['lib/inbox', 'no door header inbox/inbox.h']),
    'unknown header': ('lib/spec/spec_parse.c', '#include "nowhere.h"\n',
                       ['lib/spec/spec_parse.c:3:', '"nowhere.h" not found']),
}


def make_tree(root, extra=None):
    files = dict(GOOD)
    if extra:
        path, text = extra
        files[path] = files.get(path, '') + text
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'w') as f:
            f.write(text)


def run(root):
    p = subprocess.run([sys.executable, CHECK, '--root', root],
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        good = os.path.join(tmp, 'good')
        make_tree(good)
        rc, out = run(good)
        if rc != 0:
            print('FAIL good tree: exit %d\n%s' % (rc, out))
            failures += 1
        else:
            print('ok   good tree passes')
        for i, (name, (path, text, words)) in enumerate(sorted(BAD.items())):
            root = os.path.join(tmp, 'bad%d' % i)
            make_tree(root, (path, text))
            rc, out = run(root)
            missing = [w for w in words if w not in out]
            if rc != 1 or missing:
                print('FAIL %s: exit %d, missing %s\n%s' % (name, rc, missing, out))
                failures += 1
            else:
                print('ok   %s: %s' % (name, out.splitlines()[0]))
    print('%d failure(s)' % failures)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
