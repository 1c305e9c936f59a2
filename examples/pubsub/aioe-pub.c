/* aioe-pub: publishes through a DataflowEndpoint (any authentication
 * method), to try an endpoint file before deploying it.
 *
 *   aioe-pub [options] ENDPOINT.yaml TOPIC [-m MESSAGE | -l | -f FILE]
 *
 * Exit status (examples/common/tool.h): 0 every message acknowledged,
 * 1 bad YAML or a publish the library or the broker refused, 2 usage,
 * 3 an endpoint that cannot authenticate/connect, a publish lost with the
 * connection, a file that cannot be read. Built only against the public
 * API. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/tool.h"
#include "pubsub-common.h"

typedef struct pub_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned long done, failed;
    int last_status, last_reason;
    bool refused; /* a completion carried a failure reason code (>= 0x80) */
} pub_state;

static void usage(FILE *to)
{
    fprintf(to,
        "usage: aioe-pub [options] ENDPOINT.yaml TOPIC\n"
        "Publishes through the endpoint's session (TLS, authentication, QoS from\n"
        "the spec) and waits for every acknowledgement.\n"
        "  -m, --message TEXT   the payload (default: empty)\n"
        "  -l, --lines          one message per line of standard input\n"
        "  -f, --file FILE      the payload is FILE's contents\n"
        "  -n, --count N        publish N times (default 1)\n"
        "  -q, --qos N          0 or 1 (default: the endpoint's qos)\n"
        "  -r, --retain         set the RETAIN flag\n"
        PUBSUB_COMMON_USAGE
        TOOL_HELP_TRAILER
        "(1: invalid endpoint file, or a publish refused; 3: cannot read a file,\n"
        "cannot connect or authenticate, or a publish lost with the connection.)\n"
        "(Content type and user properties need the library's message builder,\n"
        "which is not there yet; see docs/bridge.md.)\n");
}

static void on_published(aioe_session *s, int status, int reason, void *ud)
{
    (void)s;
    pub_state *p = ud;
    pthread_mutex_lock(&p->mu);
    p->done++;
    if (status != AIOE_OK) {
        p->failed++;
        p->last_status = status;
        p->last_reason = reason;
        if (reason >= 0x80)
            p->refused = true;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Publishes one message, waiting for room in the window. */
static int publish_one(pubsub_common *c, pub_state *p, const char *topic, const void *data,
                       size_t len, int qos, bool retain, unsigned long *sent)
{
    for (;;) {
        pthread_mutex_lock(&p->mu);
        unsigned long seen = p->done;
        pthread_mutex_unlock(&p->mu);
        int rc = aioe_session_publish(c->session, topic, data, len, qos, retain,
                                      on_published, p);
        if (rc == AIOE_OK) {
            (*sent)++;
            return 0;
        }
        if (rc != AIOE_ERR_WOULD_BLOCK) {
            fprintf(stderr, "aioe-pub: publish to '%s' failed: %s\n", topic, aioe_strerror(rc));
            return tool_exit_for(rc);
        }
        pthread_mutex_lock(&p->mu);
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 1;
        while (p->done == seen)
            if (pthread_cond_timedwait(&p->cv, &p->mu, &dl) == ETIMEDOUT)
                break;
        pthread_mutex_unlock(&p->mu);
    }
}

int main(int argc, char **argv)
{
    pubsub_common c = {.prog = "aioe-pub"};
    const char *message = "", *file = NULL;
    bool lines = false, retain = false;
    unsigned long count = 1;
    int qos = -1;
    static const struct option longopts[] = {
        {"message", required_argument, NULL, 'm'},
        {"lines", no_argument, NULL, 'l'},
        {"file", required_argument, NULL, 'f'},
        {"count", required_argument, NULL, 'n'},
        {"qos", required_argument, NULL, 'q'},
        {"retain", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        PUBSUB_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "m:lf:n:q:rhVv", longopts, NULL)) != -1) {
        if (pubsub_common_option(&c, o, optarg))
            continue;
        switch (o) {
        case 'm': message = optarg; break;
        case 'l': lines = true; break;
        case 'f': file = optarg; break;
        case 'n': count = strtoul(optarg, NULL, 10); break;
        case 'q':
            qos = atoi(optarg);
            if (qos < 0 || qos > 1) {
                fprintf(stderr, "aioe-pub: --qos must be 0 or 1\n");
                return TOOL_EXIT_USAGE;
            }
            break;
        case 'r': retain = true; break;
        case 'h': usage(stdout); return TOOL_EXIT_OK;
        case 'V': return tool_print_version("aioe-pub");
        default: usage(stderr); return TOOL_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return TOOL_EXIT_USAGE;
    }
    c.file = argv[optind];
    const char *topic = argv[optind + 1];
    int status = pubsub_load(&c);
    if (status) {
        pubsub_close(&c);
        return status;
    }
    if (qos < 0)
        qos = aioe_endpoint_qos(c.ep);

    char *fdata = NULL;
    size_t flen = 0;
    if (file) {
        FILE *f = fopen(file, "rb");
        if (!f) {
            fprintf(stderr, "aioe-pub: %s: %s\n", file, strerror(errno));
            pubsub_close(&c);
            return TOOL_EXIT_FAILURE;
        }
        size_t cap = 0;
        for (;;) {
            if (flen == cap) {
                cap = cap ? cap * 2 : 65536;
                char *n = realloc(fdata, cap);
                if (!n)
                    break;
                fdata = n;
            }
            size_t r = fread(fdata + flen, 1, cap - flen, f);
            if (r == 0)
                break;
            flen += r;
        }
        fclose(f);
    }

    status = pubsub_connect(&c, NULL, NULL);
    pub_state p = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    unsigned long sent = 0;
    if (status == 0) {
        if (lines) {
            char *line = NULL;
            size_t cap = 0;
            ssize_t n;
            while (status == 0 && (n = getline(&line, &cap, stdin)) >= 0) {
                if (n > 0 && line[n - 1] == '\n')
                    line[--n] = 0;
                status = publish_one(&c, &p, topic, line, (size_t)n, qos, retain, &sent);
            }
            free(line);
        } else {
            for (unsigned long i = 0; i < count && status == 0; i++)
                status = publish_one(&c, &p, topic, file ? fdata : message,
                                     file ? flen : strlen(message), qos, retain, &sent);
        }
        /* every accepted publish completes exactly once */
        pthread_mutex_lock(&p.mu);
        while (p.done < sent)
            pthread_cond_wait(&p.cv, &p.mu);
        pthread_mutex_unlock(&p.mu);
        if (p.failed) {
            fprintf(stderr, "aioe-pub: %lu of %lu publishes failed (last: %s, reason %d)\n",
                    p.failed, sent, aioe_strerror(p.last_status), p.last_reason);
            status = p.refused ? TOOL_EXIT_INVALID : TOOL_EXIT_FAILURE;
        } else if (c.verbose) {
            fprintf(stderr, "aioe-pub: %lu message(s) acknowledged\n", sent);
        }
    }
    free(fdata);
    pubsub_close(&c);
    return status;
}
