/* Host-engine connection options against real brokers (issue #17 §1, §4),
 * where and how the client connects: connect failures that say what went
 * wrong (name resolution, refused, timeout) with host:port in the message,
 * failover servers, an HTTP CONNECT proxy, ALPN seen by the server. The
 * client's own options are in test-hostopts-client.c. */
#define _GNU_SOURCE
#include "session-fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#ifndef AIOE_PROXY_SCRIPT
#error AIOE_PROXY_SCRIPT must name tests/integration/connect_proxy.py
#endif

static const char *find_in_log(recorder *r, const char *needle)
{
    pthread_mutex_lock(&r->mu);
    const char *p = r->log ? strstr(r->log, needle) : NULL;
    pthread_mutex_unlock(&r->mu);
    return p;
}

/* Waits for the first DISCONNECTED event and returns it. */
static ev_rec first_failure(recorder *r)
{
    ev_rec ev = { 0 };
    size_t cur = 0;
    assert_true(fx_wait_state(r, AIOE_SESSION_DISCONNECTED, &cur, &ev, WAIT_MS * 2));
    print_message("status %d (%s): %s\n", ev.status, aioe_strerror(ev.status), ev.msg);
    return ev;
}

/* ---- §4: connect failures a program can act on ------------------------ */

static void connect_refused_names_host_port(void **state)
{
    (void)state;
    int port = harness_free_port(); /* nothing listens there */
    assert_true(port > 0);
    char hp[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", port);
    for (int tls = 0; tls < 2; tls++) {
        aioe_parse_result *res = fx_endpoint("    host: %s\n" AUTH_ANON "%s", hp,
                                             tls ? TLS_CA("test-ca") : TLS_OFF);
        recorder *r = recorder_new();
        aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
        assert_int_equal(aioe_session_start(s), AIOE_OK);
        ev_rec ev = first_failure(r);
        assert_int_equal(ev.status, AIOE_ERR_CONNECTION_REFUSED);
        assert_true(ev.will_retry);
        assert_non_null(strstr(ev.msg, hp));
        assert_non_null(strstr(ev.msg, "refused"));
        assert_null(strstr(ev.msg, "TCP/TLS"));
        char buf[256];
        assert_int_equal(aioe_session_last_error(s, buf, sizeof buf),
                         AIOE_ERR_CONNECTION_REFUSED);
        aioe_session_free(s);
        recorder_free(r);
        aioe_parse_result_free(res);
    }
}

static void connect_unresolvable_host(void **state)
{
    (void)state;
    aioe_parse_result *res = fx_endpoint("    host: no-such-broker.invalid:1883\n"
                                         AUTH_ANON TLS_OFF);
    recorder *r = recorder_new();
    aioe_session *s = fx_session(aioe_parse_result_endpoint(res, 0), r, NULL);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    ev_rec ev = first_failure(r);
    assert_int_equal(ev.status, AIOE_ERR_NAME_RESOLUTION);
    assert_true(ev.will_retry); /* DNS may come back */
    assert_non_null(strstr(ev.msg, "no-such-broker.invalid:1883"));
    assert_non_null(strstr(ev.msg, "resolve"));
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
}

/* A listener whose accept queue is full drops new SYNs: the connect times
 * out instead of being refused. */
static void connect_timeout(void **state)
{
    (void)state;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
    assert_int_equal(listen(lfd, 0), 0);
    int fill[4];
    for (int i = 0; i < 4; i++) { /* fill the accept queue (never accepted) */
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    struct pollfd p = { .fd = fill[0], .events = POLLOUT };
    poll(&p, 1, 1000);
    aioe_parse_result *res = fx_endpoint("    host: 127.0.0.1:%u\n" AUTH_ANON TLS_OFF,
                                         (unsigned)ntohs(a.sin_port));
    recorder *r = recorder_new();
    aioe_session_options *o;
    aioe_session *s = NULL;
    /* not fx_session_with: its 5 s connect timeout would make this slow */
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    aioe_session_options_set_state_callback(o, fx_on_state, r);
    aioe_session_options_set_log_callback(o, AIOE_LOG_DEBUG, fx_on_log, r);
    aioe_session_options_set_connect_timeout(o, 1000);
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(res, 0), "timeout", o),
                     AIOE_OK);
    aioe_session_options_free(o);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    ev_rec ev = first_failure(r);
    assert_int_equal(ev.status, AIOE_ERR_TIMEOUT);
    assert_non_null(strstr(ev.msg, "timed out"));
    char hp[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    assert_non_null(strstr(ev.msg, hp));
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
}

/* ---- failover servers ----------------------------------------------- */

static void failover_and_back(void **state)
{
    (void)state;
    broker_config cfg;
    broker_config_init(&cfg);
    broker *a, *b;
    assert_int_equal(broker_start(&cfg, &a), 0);
    assert_int_equal(broker_start(&cfg, &b), 0);
    assert_int_equal(broker_stop(a), 0); /* the first server is down */
    aioe_parse_result *res = fx_endpoint("    host: 127.0.0.1:%d\n" AUTH_ANON TLS_OFF,
                                         broker_port(a, 0));
    recorder *r = recorder_new();
    aioe_session_options *o;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    char hp[64];
    assert_int_equal(aioe_session_options_add_server(o, "127.0.0.1"), AIOE_ERR_INVALID_ARG);
    assert_int_equal(aioe_session_options_add_server(o, "127.0.0.1:0"), AIOE_ERR_INVALID_ARG);
    snprintf(hp, sizeof hp, "127.0.0.1:%d", broker_port(b, 0));
    assert_int_equal(aioe_session_options_add_server(o, hp), AIOE_OK);
    aioe_session *s = fx_session_with(aioe_parse_result_endpoint(res, 0), r, NULL, o);
    const char *id = aioe_session_client_id(s);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    size_t cur = 0;
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    assert_true(broker_wait_client(b, id, 1, WAIT_MS));
    char want[128];
    snprintf(want, sizeof want, "connected to tcp://%s", hp);
    assert_non_null(find_in_log(r, want));

    /* the first comes back; the second goes away: back to the first */
    assert_int_equal(broker_restart(a), 0);
    assert_int_equal(broker_stop(b), 0);
    assert_true(fx_wait_state(r, AIOE_SESSION_DISCONNECTED, &cur, NULL, WAIT_MS));
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    assert_true(broker_wait_client(a, id, 1, WAIT_MS));

    /* the first goes away while the second is back: failover again */
    assert_int_equal(broker_restart(b), 0);
    assert_int_equal(broker_stop(a), 0);
    assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, &cur, NULL, WAIT_MS));
    assert_true(broker_wait_client(b, id, 2, WAIT_MS));

    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    broker_free(a);
    broker_free(b);
}

/* ---- HTTP CONNECT proxy ------------------------------------------------ */

typedef struct proxy {
    pid_t pid;
    int port;
    char *log;
} proxy;

static void proxy_start(proxy *p)
{
    p->log = harness_path("proxy.log");
    assert_int_equal(harness_write_file(p->log, "", 0), 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("python3", "python3", AIOE_PROXY_SCRIPT, p->log, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &p->port), 1);
    fclose(f);
}

static void proxy_stop(proxy *p)
{
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    free(p->log);
}

static size_t proxy_count(const proxy *p, const char *needle)
{
    char *text = harness_read_file(p->log, NULL);
    size_t n = 0;
    for (const char *at = text; at && (at = strstr(at, needle)); at++)
        n++;
    free(text);
    return n;
}

static void through_proxy(void **state)
{
    (void)state;
    broker_config cfg;
    broker_config_init(&cfg);
    broker_config_add_listener(&cfg, BROKER_TCP, true, false); /* 1: TLS */
    broker *b;
    assert_int_equal(broker_start(&cfg, &b), 0);
    proxy px;
    proxy_start(&px);
    for (int tls = 0; tls < 2; tls++) {
        aioe_parse_result *res =
            tls ? fx_endpoint("    host: localhost:%d\n" AUTH_ANON TLS_CA("test-ca"),
                              broker_port(b, 1))
                : fx_endpoint("    host: 127.0.0.1:%d\n" AUTH_ANON TLS_OFF,
                              broker_port(b, 0));
        char target[64], url[128];
        snprintf(target, sizeof target, "CONNECT %s:%d auth=proxy-user:Pr0xy-secret",
                 tls ? "localhost" : "127.0.0.1", broker_port(b, tls));
        snprintf(url, sizeof url, "http://proxy-user:Pr0xy-secret@127.0.0.1:%d", px.port);
        recorder *r = recorder_new();
        aioe_session_options *o;
        assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
        assert_int_equal(aioe_session_options_set_proxy(o, "https://127.0.0.1:1", NULL),
                         AIOE_ERR_INVALID_ARG);
        assert_int_equal(aioe_session_options_set_proxy(o, "http://127.0.0.1", NULL),
                         AIOE_ERR_INVALID_ARG);
        assert_int_equal(aioe_session_options_set_proxy(o, url, "example.com"), AIOE_OK);
        aioe_session *s = fx_session_with(aioe_parse_result_endpoint(res, 0), r, NULL, o);
        assert_int_equal(aioe_session_start(s), AIOE_OK);
        assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, NULL, NULL, WAIT_MS));
        assert_int_equal(proxy_count(&px, target), 1);
        aioe_session_free(s);
        assert_true(fx_log_lacks(r, "Pr0xy-secret"));
        recorder_free(r);

        /* NO_PROXY matching the host: straight to the broker */
        r = recorder_new();
        assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
        assert_int_equal(aioe_session_options_set_proxy(o, url, "example.com, .localhost,127.0.0.1"),
                         AIOE_OK);
        s = fx_session_with(aioe_parse_result_endpoint(res, 0), r, NULL, o);
        assert_int_equal(aioe_session_start(s), AIOE_OK);
        assert_true(fx_wait_state(r, AIOE_SESSION_CONNECTED, NULL, NULL, WAIT_MS));
        assert_int_equal(proxy_count(&px, target), 1);
        aioe_session_free(s);
        recorder_free(r);
        aioe_parse_result_free(res);
    }
    /* a proxy that is not there: the message says so */
    int dead = harness_free_port();
    aioe_parse_result *res = fx_endpoint("    host: 127.0.0.1:%d\n" AUTH_ANON TLS_OFF,
                                         broker_port(b, 0));
    recorder *r = recorder_new();
    aioe_session_options *o;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", dead);
    assert_int_equal(aioe_session_options_set_proxy(o, url, NULL), AIOE_OK);
    aioe_session *s = fx_session_with(aioe_parse_result_endpoint(res, 0), r, NULL, o);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    ev_rec ev = first_failure(r);
    assert_int_equal(ev.status, AIOE_ERR_CONNECTION_REFUSED);
    assert_non_null(strstr(ev.msg, "proxy"));
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    proxy_stop(&px);
    broker_free(b);
}

/* ---- ALPN, checked by a TLS server that records what was offered ------ */

typedef struct alpn_server {
    int lfd;
    int port;
    pthread_t thread;
    SSL_CTX *ctx;
    unsigned char offered[256];
    unsigned offered_len;
    bool done;
    pthread_mutex_t mu;
} alpn_server;

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    (void)ssl;
    alpn_server *a = arg;
    pthread_mutex_lock(&a->mu);
    a->offered_len = inlen < sizeof a->offered ? inlen : (unsigned)sizeof a->offered;
    memcpy(a->offered, in, a->offered_len);
    a->done = true;
    pthread_mutex_unlock(&a->mu);
    *out = in + 1; /* the client's first choice */
    *outlen = in[0];
    return SSL_TLSEXT_ERR_OK;
}

static void *alpn_main(void *arg)
{
    alpn_server *a = arg;
    int fd = accept(a->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    SSL *ssl = SSL_new(a->ctx);
    SSL_set_fd(ssl, fd);
    SSL_accept(ssl);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    return NULL;
}

static bool alpn_seen(void *arg)
{
    alpn_server *a = arg;
    pthread_mutex_lock(&a->mu);
    bool d = a->done;
    pthread_mutex_unlock(&a->mu);
    return d;
}

static void alpn_offered_in_handshake(void **state)
{
    (void)state;
    const harness_pki *pki = harness_pki_get();
    alpn_server a = { 0 };
    pthread_mutex_init(&a.mu, NULL);
    a.ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(a.ctx);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(a.ctx, pki->server_cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(a.ctx, pki->server_key, SSL_FILETYPE_PEM), 1);
    SSL_CTX_set_alpn_select_cb(a.ctx, alpn_select, &a);
    a.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(a.lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    getsockname(a.lfd, (struct sockaddr *)&sa, &sl);
    assert_int_equal(listen(a.lfd, 4), 0);
    assert_int_equal(pthread_create(&a.thread, NULL, alpn_main, &a), 0);

    aioe_parse_result *res = fx_endpoint("    host: localhost:%u\n" AUTH_ANON TLS_CA("test-ca"),
                                         (unsigned)ntohs(sa.sin_port));
    recorder *r = recorder_new();
    aioe_session_options *o;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    const char *bad[] = { "" };
    assert_int_equal(aioe_session_options_set_alpn(o, bad, 1), AIOE_ERR_INVALID_ARG);
    const char *protos[] = { "mqtt", "x-aio-test" };
    assert_int_equal(aioe_session_options_set_alpn(o, protos, 2), AIOE_OK);
    aioe_session *s = fx_session_with(aioe_parse_result_endpoint(res, 0), r, NULL, o);
    assert_int_equal(aioe_session_start(s), AIOE_OK);
    assert_true(harness_wait_until(alpn_seen, &a, WAIT_MS));
    static const unsigned char want[] = "\x04mqtt\x0ax-aio-test";
    assert_int_equal(a.offered_len, sizeof want - 1);
    assert_memory_equal(a.offered, want, sizeof want - 1);
    aioe_session_free(s);
    recorder_free(r);
    aioe_parse_result_free(res);
    shutdown(a.lfd, SHUT_RDWR);
    pthread_join(a.thread, NULL);
    close(a.lfd);
    SSL_CTX_free(a.ctx);
    pthread_mutex_destroy(&a.mu);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connect_refused_names_host_port),
        cmocka_unit_test(connect_unresolvable_host),
        cmocka_unit_test(connect_timeout),
        cmocka_unit_test(failover_and_back),
        cmocka_unit_test(through_proxy),
        cmocka_unit_test(alpn_offered_in_handshake),
    };
    const char *filter = getenv("AIOE_TEST_FILTER");
    if (filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
