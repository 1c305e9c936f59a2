/* Starts and drives tests/identity/identity_server.py from a C test: the
 * local IMDS / Azure Arc / App Service / workload-identity token service.
 * Header-only, like session-fixture.h. The server runs until the test
 * closes its stdin (identity_server_stop) or exits (PR_SET_PDEATHSIG).
 * Needs AIOE_IDENTITY_SERVER (path of the script) defined by meson. */
#ifndef AIOE_TEST_IDENTITY_SERVER_H
#define AIOE_TEST_IDENTITY_SERVER_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "harness.h"

typedef struct identity_server {
    pid_t pid;
    int stdin_fd;
    int http_port, https_port;
    char *key_dir;       /* signing-key.pem, signing-pub.pem */
    char *arc_dir;       /* where the Arc challenge key files appear */
    char *pub_key;       /* public key for the broker plugin */
    char *federated_token_file;
    char imds_url[128], arc_url[128], appservice_url[128], authority[128];
    char control[128];
} identity_server;

#define IDENTITY_HEADER_VALUE "test-identity-header"
#define IDENTITY_TENANT "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
#define IDENTITY_FEDERATED_TOKEN "federated.sa.token"

/* Returns 0 or -1 (message on stderr). */
static inline int identity_server_start(identity_server **out)
{
    const harness_pki *pki = harness_pki_get();
    if (!pki)
        return -1;
    identity_server *s = calloc(1, sizeof *s);
    char *name = harness_unique("identity");
    char sub[256];
    snprintf(sub, sizeof sub, "%s/keys", name);
    free(harness_mkdir(name));
    s->key_dir = harness_mkdir(sub);
    snprintf(sub, sizeof sub, "%s/arc-tokens", name);
    s->arc_dir = harness_mkdir(sub);
    snprintf(sub, sizeof sub, "%s/federated-token", name);
    s->federated_token_file = harness_path(sub);
    free(name);
    harness_write_file(s->federated_token_file, IDENTITY_FEDERATED_TOKEN "\n",
                       strlen(IDENTITY_FEDERATED_TOKEN) + 1);
    int in[2], outp[2];
    if (pipe(in) != 0 || pipe(outp) != 0)
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        dup2(in[0], 0);
        dup2(outp[1], 1);
        close(in[1]);
        close(outp[0]);
        execlp("python3", "python3", AIOE_IDENTITY_SERVER,
               "--key-dir", s->key_dir, "--arc-dir", s->arc_dir,
               "--cert", pki->server_cert, "--cert-key", pki->server_key,
               "--identity-header", IDENTITY_HEADER_VALUE,
               "--federated-token", IDENTITY_FEDERATED_TOKEN,
               "--tenant", IDENTITY_TENANT,
               getenv("AIOE_TEST_VERBOSE") ? "--verbose" : NULL, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(outp[1]);
    s->pid = pid;
    s->stdin_fd = in[1];
    fcntl(s->stdin_fd, F_SETFD, FD_CLOEXEC);
    FILE *f = fdopen(outp[0], "r");
    char line[128] = "";
    /* blocks until the server has bound both listeners (or died) */
    if (!f || !fgets(line, sizeof line, f) ||
        sscanf(line, "READY %d %d", &s->http_port, &s->https_port) != 2) {
        fprintf(stderr, "identity server did not start (%s)\n", line);
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    snprintf(s->imds_url, sizeof s->imds_url,
             "http://127.0.0.1:%d/metadata/identity/oauth2/token", s->http_port);
    snprintf(s->arc_url, sizeof s->arc_url, "http://127.0.0.1:%d/arc/token",
             s->http_port);
    snprintf(s->appservice_url, sizeof s->appservice_url,
             "http://127.0.0.1:%d/appservice/token", s->http_port);
    snprintf(s->authority, sizeof s->authority, "https://localhost:%d/",
             s->https_port);
    snprintf(s->control, sizeof s->control, "http://127.0.0.1:%d", s->http_port);
    size_t n = strlen(s->key_dir) + 32;
    s->pub_key = malloc(n);
    snprintf(s->pub_key, n, "%s/signing-pub.pem", s->key_dir);
    *out = s;
    return 0;
}

static size_t identity_collect(char *p, size_t sz, size_t n, void *ud)
{
    char *buf = ud;
    size_t have = strlen(buf), add = sz * n;
    if (have + add < 4096) {
        memcpy(buf + have, p, add);
        buf[have + add] = '\0';
    }
    return sz * n;
}

/* GET <server><path>; the body goes to buf (4096 bytes). Returns the status. */
static inline long identity_server_get(identity_server *s, const char *path,
                                       char *buf)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", s->control, path);
    buf[0] = '\0';
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, identity_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, buf);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

/* e.g. identity_server_control(s, "faults=404,410&ttl=4") */
static inline int identity_server_control(identity_server *s, const char *query)
{
    char path[800], buf[4096];
    snprintf(path, sizeof path, "/_control?%s", query);
    return identity_server_get(s, path, buf) == 200 ? 0 : -1;
}

/* A counter from /_stats ("requests", "tokens", "imds", "arc", ...). */
static inline int identity_server_stat(identity_server *s, const char *name)
{
    char buf[4096];
    if (identity_server_get(s, "/_stats", buf) != 200)
        return -1;
    json_object *o = json_tokener_parse(buf), *v;
    int n = -1;
    if (o && json_object_object_get_ex(o, name, &v))
        n = json_object_get_int(v);
    json_object_put(o);
    return n;
}

static inline void identity_server_stop(identity_server *s)
{
    if (!s)
        return;
    close(s->stdin_fd); /* the server exits on EOF */
    int st;
    waitpid(s->pid, &st, 0);
    free(s->key_dir);
    free(s->arc_dir);
    free(s->pub_key);
    free(s->federated_token_file);
    free(s);
}

#endif
