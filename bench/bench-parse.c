/* Spec parser throughput and memory.
 *
 *   bench-parse [ENDPOINTS] [ROUNDS]
 *
 * Builds a multi-document stream of ENDPOINTS (default 10000) varied
 * DataflowEndpoint resources in memory, parses it ROUNDS times (default 5)
 * and prints endpoints per second (best round, one thread) and the heap the
 * parse result holds per endpoint at 1/10/100 % of the input, to show that
 * memory grows linearly with the input. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <aioendpoint/aioendpoint.h>

static char *make_stream(size_t n, size_t *len)
{
    size_t cap = n * 700 + 1;
    char *buf = malloc(cap);
    if (!buf)
        exit(1);
    size_t used = 0;
    static const char *const auth[] = {
        "      method: ServiceAccountToken\n"
        "      serviceAccountTokenSettings:\n        audience: aio-internal\n",
        "      method: X509Certificate\n"
        "      x509CertificateSettings:\n        secretRef: client-cert\n",
        "      method: SystemAssignedManagedIdentity\n"
        "      systemAssignedManagedIdentitySettings: {}\n",
        "      method: UserAssignedManagedIdentity\n"
        "      userAssignedManagedIdentitySettings:\n"
        "        clientId: 11111111-2222-3333-4444-555555555555\n"
        "        tenantId: 66666666-7777-8888-9999-000000000000\n",
        "      method: Anonymous\n",
    };
    for (size_t i = 0; i < n; i++) {
        used += (size_t)snprintf(buf + used, cap - used,
            "---\n"
            "apiVersion: connectivity.iotoperations.azure.com/v1\n"
            "kind: DataflowEndpoint\n"
            "metadata:\n  name: endpoint-%zu\n  namespace: azure-iot-operations\n"
            "spec:\n  endpointType: Mqtt\n  mqttSettings:\n"
            "    host: broker-%zu.example.com:%zu\n"
            "    authentication:\n%s"
            "    tls:\n      mode: Enabled\n      trustedCaCertificateConfigMapRef: ca-%zu\n"
            "    clientIdPrefix: df-%zu-\n"
            "    qos: %zu\n    retain: %s\n    sessionExpirySeconds: %zu\n"
            "    protocol: %s\n    maxInflightMessages: %zu\n    keepAliveSeconds: 60\n"
            "    cloudEventAttributes: %s\n",
            i, i % 97, 1000 + i % 60000, auth[i % 5], i % 13, i, i % 2,
            i % 3 ? "Keep" : "Never", 600 + i, i % 4 ? "Mqtt" : "WebSockets",
            1 + i % 500, i % 2 ? "Propagate" : "CreateOrRemap");
    }
    *len = used;
    return buf;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static aioe_parse_result *parse_or_die(const char *buf, size_t len, size_t expect)
{
    aioe_parse_result *res = NULL;
    int rc = aioe_parse_buffer(buf, len, "bench", NULL, &res);
    if (rc != AIOE_OK || aioe_parse_result_endpoint_count(res) != expect) {
        fprintf(stderr, "parse failed: %s\n", aioe_strerror(rc));
        exit(1);
    }
    return res;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    size_t len;
    char *buf = make_stream(n, &len);

    double best = 1e9;
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        aioe_parse_result *res = parse_or_die(buf, len, n);
        double t = now() - t0;
        aioe_parse_result_free(res);
        if (t < best)
            best = t;
    }
    printf("input: %zu endpoints, %.1f MiB\n", n, (double)len / (1024 * 1024));
    printf("parse: best of %d rounds %.3f s -> %.0f endpoints/s, %.1f MiB/s\n", rounds, best,
           (double)n / best, (double)len / (1024 * 1024) / best);

    /* Heap held by results of growing prefixes of the same stream. */
    size_t sizes[] = { n / 100 ? n / 100 : 1, n / 10 ? n / 10 : 1, n };
    for (int i = 0; i < 3; i++) {
        char *part = make_stream(sizes[i], &len);
        struct mallinfo2 before = mallinfo2();
        aioe_parse_result *res = parse_or_die(part, len, sizes[i]);
        struct mallinfo2 after = mallinfo2();
        double held = (double)(after.uordblks - before.uordblks);
        printf("memory: %6zu endpoints -> result holds %.2f MiB (%.0f bytes/endpoint, "
               "input %.0f bytes/endpoint)\n",
               sizes[i], held / (1024 * 1024), held / (double)sizes[i],
               (double)len / (double)sizes[i]);
        aioe_parse_result_free(res);
        free(part);
    }
    free(buf);
    return 0;
}
