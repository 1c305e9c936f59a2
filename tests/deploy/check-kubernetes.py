#!/usr/bin/env python3
"""deploy/kubernetes/aioe-bridge.yaml: valid YAML and the fields
docs/operations.md promises (no Kubernetes schema validator is packaged in
Debian 12, so the fields are asserted here):

- a StatefulSet whose pods run `--instance $(POD_INDEX)` with POD_INDEX
  from the pod-index label, replicas equal to the DataflowProfile's
  instanceCount in the ConfigMap;
- the state directory on a volumeClaimTemplate mounted where the image's
  --state-dir points; the service account token projected with the
  audience of the ServiceAccountToken endpoint and passed as --token-file;
- /readyz and /healthz probes on the metrics port; Prometheus annotations;
  non-root; a grace period longer than --drain-timeout;
- the ConfigMap's flow.yaml passes `aioe-bridge --check`.

Usage: check-kubernetes.py MANIFEST AIOE_BRIDGE"""
import os
import subprocess
import sys
import tempfile

import yaml


def check(cond, msg):
    if not cond:
        print("FAIL: " + msg)
        sys.exit(1)


def main():
    manifest, bridge = sys.argv[1], sys.argv[2]
    docs = [d for d in yaml.safe_load_all(open(manifest, encoding="utf-8")) if d]
    by_kind = {}
    for d in docs:
        check("apiVersion" in d and "kind" in d and "name" in d.get("metadata", {}),
              "a document without apiVersion, kind or metadata.name")
        by_kind.setdefault(d["kind"], []).append(d)
    sts = by_kind["StatefulSet"][0]
    check(sts["apiVersion"] == "apps/v1", "StatefulSet apiVersion")
    spec = sts["spec"]
    tmpl = spec["template"]
    check(spec["selector"]["matchLabels"].items() <= tmpl["metadata"]["labels"].items(),
          "selector does not match the pod labels")
    pod = tmpl["spec"]
    c = pod["containers"][0]
    args = c["args"]
    env = {e["name"]: e for e in c.get("env", [])}
    check(args[args.index("--instance") + 1] == "$(POD_INDEX)", "--instance is not $(POD_INDEX)")
    check(env["POD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] ==
          "metadata.labels['apps.kubernetes.io/pod-index']", "POD_INDEX is not the pod ordinal")

    # state on a PVC, where the image keeps it
    claims = {t["metadata"]["name"]: t for t in spec["volumeClaimTemplates"]}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    check("state" in claims and mounts["state"]["mountPath"] == "/var/lib/aioe-bridge",
          "the state directory is not on the volumeClaimTemplate")
    check(claims["state"]["spec"]["accessModes"] == ["ReadWriteOnce"], "state access mode")

    # projected service account token with the endpoint's audience
    vols = {v["name"]: v for v in pod["volumes"]}
    tok = args[args.index("--token-file") + 1]
    tok_dir, tok_file = os.path.split(tok)
    tok_mount = [m for m in c["volumeMounts"] if m["mountPath"] == tok_dir]
    check(len(tok_mount) == 1, "no volume mounted at the --token-file directory")
    src = vols[tok_mount[0]["name"]]["projected"]["sources"][0]["serviceAccountToken"]
    check(src["path"] == tok_file, "the projected token's path is not --token-file")

    cm = by_kind["ConfigMap"][0]
    flows = list(yaml.safe_load_all(cm["data"]["flow.yaml"]))
    sat = [f for f in flows if f["kind"] == "DataflowEndpoint" and
           f["spec"]["mqttSettings"]["authentication"]["method"] == "ServiceAccountToken"]
    check(sat, "no ServiceAccountToken endpoint in the example flow")
    aud = sat[0]["spec"]["mqttSettings"]["authentication"]["serviceAccountTokenSettings"]["audience"]
    check(src["audience"] == aud, "the projected token's audience is not the endpoint's")
    profiles = [f for f in flows if f["kind"] == "DataflowProfile"]
    check(profiles and profiles[0]["spec"]["instanceCount"] == spec["replicas"],
          "replicas differ from the DataflowProfile's instanceCount")
    check(pod["automountServiceAccountToken"] is False, "the default token is mounted too")

    # probes, scrape annotations, non-root, graceful stop
    port = {p["name"]: p["containerPort"] for p in c["ports"]}["metrics"]
    check(c["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness probe")
    check(c["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness probe")
    ann = tmpl["metadata"]["annotations"]
    check(ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == str(port) and
          ann["prometheus.io/path"] == "/metrics", "Prometheus annotations")
    check(pod["securityContext"]["runAsNonRoot"] is True, "runAsNonRoot")
    drain = int(args[args.index("--drain-timeout") + 1]) if "--drain-timeout" in args else 10
    check(pod["terminationGracePeriodSeconds"] > drain, "grace period not above the drain timeout")
    svc = by_kind["Service"][0]
    check(svc["metadata"]["name"] == spec["serviceName"] and svc["spec"]["clusterIP"] == "None",
          "no headless Service for serviceName")

    # the example dataflow is valid for the bridge itself
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(cm["data"]["flow.yaml"])
    try:
        r = subprocess.run([bridge, "--check", f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    check(r.returncode == 0, "aioe-bridge --check refuses flow.yaml:\n" + r.stdout + r.stderr)
    print("ok: %s (%s)" % (manifest, r.stdout.strip()))


main()
