#!/usr/bin/env python3
"""deploy/container/Dockerfile, linted (hadolint is not in Debian and no
container build runs here; docs/operations.md says what is checked):

- it parses: known instructions only, continuation lines joined;
- multi-stage, every stage FROM debian:12 or debian:12-slim (or an
  earlier stage); nothing fetched from the network but Debian packages
  (no ADD URL, curl, wget, pip, npm, go get);
- every package given to apt-get install exists in the apt cache;
- the runtime stage installs the Debian package of every shared library
  the built aioe-bridge and libaioendpoint need (ldd + dpkg -S), and
  libcurl's (dlopen'ed);
- the runtime stage runs as a non-root USER, declares the state directory
  a VOLUME and the entrypoint passes --state-dir to it.

Usage: check-container.py DOCKERFILE AIOE_BRIDGE"""
import os
import re
import shlex
import shutil
import subprocess
import sys

KNOWN = {"FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "USER", "VOLUME", "EXPOSE", "WORKDIR",
         "ENTRYPOINT", "CMD", "LABEL", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "ONBUILD"}
STATE = "/var/lib/aioe-bridge"


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def parse(path):
    lines, cur = [], ""
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        cur += line
        lines.append(cur.strip())
        cur = ""
    if cur:
        fail("a continuation line ends the file")
    out = []
    for ln in lines:
        word, _, rest = ln.partition(" ")
        if word.upper() != word or word not in KNOWN:
            fail("unknown instruction: " + ln[:60])
        out.append((word, rest.strip()))
    return out


def apt_packages(cmd):
    pkgs = []
    for part in re.split(r"&&|;", cmd):
        words = shlex.split(part)
        if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
            pkgs += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return pkgs


def direct_needs(path):
    """DT_NEEDED names of @path (not what those need: apt pulls that in)."""
    out = subprocess.run(["objdump", "-p", path], capture_output=True, text=True,
                         check=True).stdout
    return set(re.findall(r"^\s*NEEDED\s+(\S+)$", out, re.M))


def needed_packages(binary):
    """Debian packages of the libraries aioe-bridge and libaioendpoint link."""
    resolved = {}
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            resolved[m.group(1)] = m.group(2)
    names = direct_needs(binary)
    lib = [n for n in names if n.startswith("libaioendpoint")]
    if lib:
        names |= direct_needs(resolved[lib[0]])
    paths = {}
    for n in sorted(names):
        if n.startswith("libaioendpoint") or n.startswith("ld-linux"):
            continue
        if n not in resolved:
            fail("ldd cannot resolve " + n)
        real = os.path.realpath(resolved[n])
        paths[n] = [resolved[n], real, re.sub(r"^/usr/lib/", "/lib/", real)]
    every = sorted({p for ps in paths.values() for p in ps})
    r = subprocess.run(["dpkg", "-S"] + every, capture_output=True, text=True)
    owner = {}
    for line in r.stdout.splitlines():
        pkg, _, path = line.partition(": ")
        owner[path.strip()] = pkg.split(":")[0]
    pkgs = set()
    for n, ps in paths.items():
        found = [owner[p] for p in ps if p in owner]
        if not found:
            fail("no Debian package owns " + n)
        pkgs.add(found[0])
    return pkgs


def main():
    dockerfile, bridge = sys.argv[1], sys.argv[2]
    ins = parse(dockerfile)
    stages = []  # [name, image, [instructions]]
    for word, rest in ins:
        if word == "FROM":
            parts = rest.split()
            stages.append([parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None,
                           parts[0], []])
        elif not stages:
            fail("an instruction before FROM")
        else:
            stages[-1][2].append((word, rest))
    if len(stages) < 2:
        fail("not a multi-stage build")
    names = set()
    for name, image, body in stages:
        if image not in ("debian:12", "debian:12-slim") and image not in names:
            fail("stage FROM " + image + ": only Debian 12 images")
        if name:
            names.add(name)
        for word, rest in body:
            if word == "ADD" and re.search(r"https?://", rest):
                fail("ADD from the network: " + rest)
            if word == "RUN" and re.search(r"\b(curl|wget|pip3?|npm|go get|gem)\b", rest):
                fail("RUN fetches something that is not a Debian package: " + rest[:80])
    final = stages[-1][2]
    runtime_pkgs, all_pkgs = set(), set()
    for i, (_, _, body) in enumerate(stages):
        for word, rest in body:
            if word == "RUN":
                p = apt_packages(rest)
                all_pkgs.update(p)
                if i == len(stages) - 1:
                    runtime_pkgs.update(p)
    if shutil.which("apt-cache"):
        r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + sorted(all_pkgs),
                           capture_output=True, text=True)
        known = set(re.findall(r"^Package: (\S+)$", r.stdout, re.M))
        if all_pkgs - known:
            fail("not Debian packages: " + " ".join(sorted(all_pkgs - known)))
    need = needed_packages(bridge)
    need.discard("libc6")
    # sanitizer builds (tools/test.sh) link these; a release build does not
    need = {p for p in need if not re.match(r"lib(asan|ubsan|tsan|lsan)\d*$", p)}
    need.add("libcurl4")  # dlopen'ed by libaioendpoint for managed identities
    missing = sorted(need - runtime_pkgs)
    if missing:
        fail("the runtime stage does not install " + ", ".join(missing))
    users = [rest for word, rest in final if word == "USER"]
    if not users or users[-1].split(":")[0] in ("0", "root"):
        fail("the runtime stage does not run as a non-root USER")
    vols = " ".join(rest for word, rest in final if word == "VOLUME")
    if STATE not in vols:
        fail("the state directory is not a VOLUME")
    ep = [rest for word, rest in final if word == "ENTRYPOINT"]
    if not ep or '"--state-dir", "%s"' % STATE not in ep[-1]:
        fail("the ENTRYPOINT does not pass --state-dir " + STATE)
    print("ok: %s (%d stages, runtime packages %s)" % (dockerfile, len(stages),
                                                        " ".join(sorted(runtime_pkgs))))


main()
