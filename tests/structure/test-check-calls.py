#!/usr/bin/env python3
"""Unit test of check-calls.py: tiny objects compiled from a few lines of
C and named as meson names them (<folder>_<file>.c.o). A clean set passes;
a call cycle inside a folder, a call up a layer and a call sideways within
a layer each fail. Usage: test-check-calls.py CC [NM]"""
import os
import subprocess
import sys
import tempfile

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'check-calls.py')

GOOD = {
    'util_backoff': 'int u_backoff(void) { return 1; }\n',
    'spec_errors': 'int u_backoff(void);\nint s_err(void) { return u_backoff(); }\n',
    'spec_walk': 'int s_err(void);\nint s_walk(void) { return s_err(); }\n',
    'session_notify': 'int s_walk(void);\nint n_log(void) { return s_walk(); }\n',
    'session_session': 'int n_log(void);\nint c_new(void);\n'
                       'int ss_new(void) { return n_log() + c_new(); }\n',
    'cloudevents_cloudevents': 'int c_new(void) { return 2; }\n',
}

# name: (objects replaced, words the output must contain)
BAD = {
    'cycle inside a folder': (
        {'spec_errors': 'int u_backoff(void);\nint s_walk(void);\n'
                        'int s_err(void) { return u_backoff() + s_walk(); }\n'},
        ['call cycle between lib/spec/errors.c, lib/spec/walk.c']),
    'call up a layer': (
        {'spec_walk': 'int s_err(void);\nint n_log(void);\n'
                      'int s_walk(void) { return s_err() + n_log(); }\n'},
        ['lib/spec/walk.c calls lib/session/notify.c (n_log)', 'not below spec']),
    'call sideways within a layer': (
        {'cloudevents_cloudevents': 'int p_send(void);\nint c_new(void) { return p_send(); }\n',
         'pubsub_message': 'int p_send(void) { return 3; }\n'},
        ['lib/cloudevents/cloudevents.c calls lib/pubsub/message.c (p_send)']),
}


def build(cc, root, sources):
    objs = []
    for name, text in sources.items():
        c = os.path.join(root, name + '.c')
        with open(c, 'w') as f:
            f.write(text)
        o = os.path.join(root, name + '.c.o')
        subprocess.run([cc, '-c', '-o', o, c], check=True)
        objs.append(o)
    return objs


def run(nm, objs):
    p = subprocess.run([sys.executable, CHECK, '--nm', nm] + objs,
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def main():
    cc = sys.argv[1] if len(sys.argv) > 1 else 'cc'
    nm = sys.argv[2] if len(sys.argv) > 2 else 'nm'
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        good = os.path.join(tmp, 'good')
        os.mkdir(good)
        rc, out = run(nm, build(cc, good, GOOD))
        if rc != 0:
            print('FAIL clean objects: exit %d\n%s' % (rc, out))
            failures += 1
        else:
            print('ok   clean objects pass: %s' % out.strip())
        for i, (name, (changes, words)) in enumerate(sorted(BAD.items())):
            root = os.path.join(tmp, 'bad%d' % i)
            os.mkdir(root)
            sources = dict(GOOD)
            sources.update(changes)
            rc, out = run(nm, build(cc, root, sources))
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
