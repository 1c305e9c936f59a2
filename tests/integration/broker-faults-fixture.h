/* Shared fixture of the broker-fault tests (test-broker-faults-fake.c,
 * test-broker-faults-real.c): a raw-socket fake broker on loopback that
 * answers CONNECT as scripted, and a session for a loopback port. */
#ifndef AIOE_TESTS_INTEGRATION_BROKER_FAULTS_FIXTURE_H
#define AIOE_TESTS_INTEGRATION_BROKER_FAULTS_FIXTURE_H

#include "session-fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "session_reason.h"

/* ---- a fake broker ---------------------------------------------------- */

typedef enum fake_mode {
    FAKE_CONNACK,          /* CONNACK with `code`, then close */
    FAKE_CLOSE_AT_ACCEPT,  /* close at once */
    FAKE_CLOSE_AFTER_CONNECT, /* read CONNECT, close without CONNACK */
    FAKE_GARBAGE,          /* read CONNECT, answer bytes that are no CONNACK */
    FAKE_TRUNCATED_CONNACK,/* read CONNECT, half a CONNACK, close */
    FAKE_SILENT,           /* read CONNECT, never answer */
    FAKE_CLOSE_MID_TLS,    /* read the first bytes of a ClientHello, close */
    FAKE_SCRIPT,           /* keep CONNECT, send `connack` then `after`, then
                            * answer PINGREQ only: no PUBACK, no SUBACK */
} fake_mode;

typedef struct fake_broker {
    int lfd;
    int port;
    fake_mode mode;
    int code;
    pthread_t th;
    bool stop;             /* under mu */
    pthread_mutex_t mu;
    int accepted;
    int connects;          /* CONNECT packets read */
    int open_fds[64];
    int n_open;
    /* FAKE_SCRIPT: set before the client connects */
    unsigned char connack[64];
    size_t connack_len;
    const unsigned char *after;
    size_t after_len;
    /* FAKE_SCRIPT: seen (under mu) */
    unsigned char connect_body[1024];
    size_t connect_len;
    int publishes, subscribes, disconnects, disconnect_reason;
} fake_broker;

/* Reads one MQTT packet (fixed header + body) with a deadline; returns its
 * type nibble or -1. The first `cap` bytes of the body go to `body` (may be
 * NULL), its full length to *len. */
static inline int read_packet_body(int fd, int timeout_ms, unsigned char *body, size_t cap,
                                   size_t *body_len)
{
    unsigned char h;
    struct pollfd p = { fd, POLLIN, 0 };
    if (poll(&p, 1, timeout_ms) <= 0 || read(fd, &h, 1) != 1)
        return -1;
    size_t len = 0, mult = 1;
    for (int i = 0; i < 4; i++) {
        unsigned char b;
        if (poll(&p, 1, timeout_ms) <= 0 || read(fd, &b, 1) != 1)
            return -1;
        len += (b & 127) * mult;
        mult *= 128;
        if (!(b & 128))
            break;
    }
    if (body_len)
        *body_len = len;
    size_t got = 0;
    while (len > 0) {
        unsigned char buf[512];
        if (poll(&p, 1, timeout_ms) <= 0)
            return -1;
        ssize_t r = read(fd, buf, len < sizeof buf ? len : sizeof buf);
        if (r <= 0)
            return -1;
        for (ssize_t i = 0; body && i < r; i++, got++)
            if (got < cap)
                body[got] = buf[i];
        len -= (size_t)r;
    }
    return h >> 4;
}

static inline bool fake_stopping(fake_broker *f);

static inline void write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return; /* the client went away */
        p += w;
        n -= (size_t)w;
    }
}

/* FAKE_SCRIPT after the CONNECT: the scripted answers, then PINGRESP to
 * every PINGREQ and silence to everything else, until the client leaves. */
static inline void fake_script(fake_broker *f, int c)
{
    write_all(c, f->connack, f->connack_len);
    if (f->after_len)
        write_all(c, f->after, f->after_len);
    while (!fake_stopping(f)) {
        struct pollfd p = { c, POLLIN, 0 };
        if (poll(&p, 1, 20) <= 0)
            continue;
        unsigned char body[8];
        size_t len = 0;
        int t = read_packet_body(c, 2000, body, sizeof body, &len);
        if (t < 0)
            return;
        pthread_mutex_lock(&f->mu);
        if (t == 3)
            f->publishes++;
        else if (t == 8)
            f->subscribes++;
        else if (t == 14) {
            f->disconnects++;
            f->disconnect_reason = len > 0 ? body[0] : 0;
        }
        pthread_mutex_unlock(&f->mu);
        if (t == 12)
            write_all(c, (const unsigned char *)"\xd0\x00", 2);
        else if (t == 14)
            return;
    }
}

static inline bool fake_stopping(fake_broker *f)
{
    pthread_mutex_lock(&f->mu);
    bool stop = f->stop;
    pthread_mutex_unlock(&f->mu);
    return stop;
}

static inline void *fake_main(void *arg)
{
    fake_broker *f = arg;
    while (!fake_stopping(f)) {
        struct pollfd p = { f->lfd, POLLIN, 0 };
        if (poll(&p, 1, 20) <= 0)
            continue;
        int c = accept(f->lfd, NULL, NULL);
        if (c < 0)
            continue;
        pthread_mutex_lock(&f->mu);
        f->accepted++;
        pthread_mutex_unlock(&f->mu);
        bool keep = false;
        switch (f->mode) {
        case FAKE_CLOSE_AT_ACCEPT:
            break;
        case FAKE_CLOSE_MID_TLS: {
            unsigned char buf[16];
            struct pollfd q = { c, POLLIN, 0 };
            if (poll(&q, 1, 2000) > 0 && read(c, buf, sizeof buf) > 0) {
                pthread_mutex_lock(&f->mu);
                f->connects++;
                pthread_mutex_unlock(&f->mu);
            }
            break;
        }
        default: {
            unsigned char body[1024];
            size_t len = 0;
            if (read_packet_body(c, 2000, body, sizeof body, &len) == 1) {
                pthread_mutex_lock(&f->mu);
                f->connects++;
                f->connect_len = len < sizeof body ? len : sizeof body;
                memcpy(f->connect_body, body, f->connect_len);
                pthread_mutex_unlock(&f->mu);
                if (f->mode == FAKE_SCRIPT) {
                    fake_script(f, c);
                } else if (f->mode == FAKE_CONNACK) {
                    /* v5 CONNACK: flags 0, reason, properties length 0 */
                    unsigned char ack[] = { 0x20, 3, 0, (unsigned char)f->code, 0 };
                    /* MQTT 5 §3.2.2.2: after a refusal the server closes the
                     * connection. (Keeping it open made Paho leak a 122 KiB
                     * buffer now and then when the session was stopped
                     * during the next attempt.) */
                    if (write(c, ack, sizeof ack) != sizeof ack) {
                        /* closing anyway */
                    }
                } else if (f->mode == FAKE_GARBAGE) {
                    static const unsigned char junk[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
                    keep = write(c, junk, sizeof junk - 1) > 0;
                } else if (f->mode == FAKE_TRUNCATED_CONNACK) {
                    unsigned char half[] = { 0x20, 9, 0 };
                    if (write(c, half, sizeof half) != sizeof half) {
                        /* closing anyway */
                    }
                } else if (f->mode == FAKE_SILENT) {
                    keep = true;
                }
            }
            break;
        }
        }
        pthread_mutex_lock(&f->mu);
        if (keep && f->n_open < 64)
            f->open_fds[f->n_open++] = c;
        else
            close(c);
        pthread_mutex_unlock(&f->mu);
    }
    return NULL;
}

static inline fake_broker *fake_start(fake_mode mode, int code)
{
    fake_broker *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->mode = mode;
    f->code = code;
    pthread_mutex_init(&f->mu, NULL);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->lfd, 64), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &al), 0);
    f->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
    return f;
}

static inline int fake_count(fake_broker *f, int *field)
{
    pthread_mutex_lock(&f->mu);
    int n = *field;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static inline void fake_free(fake_broker *f)
{
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->th, NULL);
    for (int i = 0; i < f->n_open; i++)
        close(f->open_fds[i]);
    close(f->lfd);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static inline aioe_session *session_for_port(int port, recorder *r, aioe_parse_result **res,
                                             bool tls, uint32_t connect_timeout_ms)
{
    *res = tls ? fx_endpoint("    host: localhost:%d\n" AUTH_ANON TLS_CA("test-ca"), port)
               : fx_endpoint("    host: localhost:%d\n" AUTH_ANON TLS_OFF, port);
    aioe_session_options *o;
    assert_int_equal(aioe_session_options_new(&o), AIOE_OK);
    aioe_session_options_set_state_callback(o, fx_on_state, r);
    aioe_session_options_set_log_callback(o, AIOE_LOG_DEBUG, fx_on_log, r);
    aioe_session_options_set_resource_dir(o, fx_resource_root());
    aioe_session_options_set_reconnect_backoff(o, 50, 200);
    aioe_session_options_set_connect_timeout(o, connect_timeout_ms);
    char *inst = harness_unique("faults");
    aioe_session *s = NULL;
    assert_int_equal(aioe_session_new(&s, aioe_parse_result_endpoint(*res, 0), inst, o),
                     AIOE_OK);
    free(inst);
    aioe_session_options_free(o);
    return s;
}

#endif
